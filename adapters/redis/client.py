"""Building the Redis client the durable adapters receive: URL check, settings, life cycle."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, parse_url

from pyworker.adapters.redis.connection import (
    HiredisPackingConnection,
    HiredisPackingSSLConnection,
    HiredisPackingUnixConnection,
)
from pyworker.domain.errors import ConfigurationError

#: What the durable adapters accept: a standalone client or a Cluster client (bytes replies).
RedisClient = redis.asyncio.Redis | RedisCluster

#: docs/adr/0008-redis-client-settings.md: no per-read socket timeout (redis-py arms an
#: asyncio timeout around every read when one is set, about a quarter of a command's
#: client cost); a dead server or link is still noticed: connecting is bounded, and TCP
#: keepalive plus a health check before reusing an idle connection catch dropped links.
CLIENT_SETTINGS: dict[str, Any] = {
    "socket_timeout": None,
    "socket_connect_timeout": 5.0,
    "socket_keepalive": True,
    "health_check_interval": 30,
}
#: Settings a Unix socket connection does not take.
_TCP_ONLY = frozenset({"socket_keepalive", "socket_keepalive_options"})
_CONNECTIONS: dict[str, type[AbstractConnection]] = {
    "redis": HiredisPackingConnection,
    "rediss": HiredisPackingSSLConnection,
    "unix": HiredisPackingUnixConnection,
}


def validate_redis_url(url: str) -> str:
    """``url`` when it is a Redis URL redis-py can connect with, else ConfigurationError.

    Accepted: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS)
    and ``unix://path[?db=n]``. The message is one line and never shows a password.

    Raises:
        ConfigurationError: another scheme, a bad port or a bad option.
    """
    shown = redact_url(url)
    scheme, separator, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    if not separator or scheme.lower() not in _CONNECTIONS:
        raise ConfigurationError(reason=f"invalid Redis URL {shown!r}: expected redis://, rediss:// or unix://")
    try:
        parse_url(url)
    except ValueError as exc:
        raise ConfigurationError(reason=f"invalid Redis URL {shown!r}: {exc}") from exc
    return url


def new_redis_client(url: str, **settings: Any) -> redis.asyncio.Redis:
    """A client for ``url`` with CLIENT_SETTINGS and hiredis command packing, not yet
    connected; ``settings`` are redis-py pool keywords that override them (for
    example ``socket_timeout=5`` or ``max_connections=500``). The caller closes it.

    Raises:
        ConfigurationError: ``url`` is not a Redis URL (``validate_redis_url``).
    """
    scheme = validate_redis_url(url).partition("://")[0].lower()
    options = {**CLIENT_SETTINGS, "connection_class": _CONNECTIONS[scheme], **settings}
    if scheme == "unix":
        options = {k: v for k, v in options.items() if k not in _TCP_ONLY}
    # Options in the URL's query string win, as in redis-py; the scheme's connection
    # class is ours (from_url would put redis-py's own back for rediss:// and unix://).
    url_options = parse_url(url)
    url_options.pop("connection_class", None)
    pool = redis.asyncio.ConnectionPool(**{**options, **url_options})
    return redis.asyncio.Redis.from_pool(pool)


async def redis_client(url: str, **settings: Any) -> AsyncIterator[redis.asyncio.Redis]:
    """The client of ``new_redis_client(url, **settings)`` for as long as the caller
    holds it, closed afterwards: a dependency-injector ``providers.Resource``
    (``providers.Resource(redis_client, config.redis_url)``), or
    ``contextlib.asynccontextmanager(redis_client)(url)`` in plain code.
    """
    client = new_redis_client(url, **settings)
    try:
        yield client
    finally:
        await client.aclose()


_QUERY_PASSWORD = re.compile(r"(?<=[?&])(password=)[^&#]*")


def redact_url(url: object) -> str:
    """``url`` with its password replaced by ``***`` (``redis://user:***@host:6379/0``);
    a password in the query (``?password=...``) too. The rest is kept as written.
    """
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL at all: nothing we can recognise as a password
        return url.split("@")[-1]
    if password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        url = url.replace(f"//{parts.netloc}", f"//{user}:***@{host}", 1)
    return _QUERY_PASSWORD.sub(r"\1***", url)
