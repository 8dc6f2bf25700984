"""Redis URLs: the schemes pyworker accepts (checked before a client is built, and as a click type), redacted."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import click
import redis.asyncio.connection

from pyworker.domain import ConfigurationError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: What redis-py's ``from_url`` understands.
REDIS_SCHEMES = ("redis", "rediss", "unix")

_QUERY_PASSWORD = re.compile(r"(?<=[?&])(password=)[^&#]*")


def validate_redis_url(url: str) -> str:
    """``url`` unchanged if redis-py can build a client from it.

    Raises:
        ConfigurationError: another scheme (``http://``, no scheme at all), or a part
            redis-py refuses (a port that is not a number, an unknown query value).
    """
    scheme, separator, _ = url.partition("://")
    if not separator:
        scheme = ""
    if scheme.lower() not in REDIS_SCHEMES:
        schemes = ", ".join(f"{name}://" for name in REDIS_SCHEMES)
        raise ConfigurationError(reason=f"not a Redis URL: {redact_url(url)!r} (use {schemes})")
    try:
        redis.asyncio.connection.parse_url(url)
    except ValueError as exc:
        raise ConfigurationError(reason=f"invalid Redis URL {redact_url(url)!r}: {exc}") from None
    return url


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``redis://user:***@host:6379/0``).

    A password in the query (``?password=...``) is redacted too; the rest is kept as written.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL at all: nothing we can recognise as a password
        return url
    if password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        url = url.replace(f"//{parts.netloc}", f"//{user}:***@{host}", 1)
    return _QUERY_PASSWORD.sub(r"\1***", url)


class RedisUrlType(click.ParamType[str]):
    """A click parameter type for Redis URLs: a usage error (exit 2) unless redis-py accepts it."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return validate_redis_url(str(value))
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


REDIS_URL = RedisUrlType()
