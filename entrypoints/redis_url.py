"""Redis URLs on the command line: the default, and a click type that makes a bad one a usage error."""

from __future__ import annotations

from typing import Any

import click

from pyworker.adapters.redis.client import redact_url, validate_redis_url
from pyworker.domain import ConfigurationError

__all__ = ["DEFAULT_REDIS_URL", "REDIS_URL", "RedisUrlType", "redact_url", "validate_redis_url"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class RedisUrlType(click.ParamType[str]):
    """A click parameter type for Redis URLs: a usage error (exit 2) unless redis-py accepts it."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return validate_redis_url(str(value))
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


REDIS_URL = RedisUrlType()
