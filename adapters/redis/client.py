"""Building the Redis client the durable adapters receive: URL check, settings, life cycle."""

from __future__ import annotations

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
    shown = _redacted(url)
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in _CONNECTIONS:
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
    scheme = urllib.parse.urlsplit(validate_redis_url(url)).scheme
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


def _redacted(url: object) -> str:
    """The URL with any password replaced by ``***``."""
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("@")[-1]
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[1]}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
