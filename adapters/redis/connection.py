"""redis.asyncio connections that pack commands with hiredis (C) instead of Python."""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio


class HiredisPacking:
    """redis-py's asyncio connection packs every command in Python (about 16 µs for
    an EVALSHA here); hiredis, already installed for parsing, does it in about 2 µs.
    Mixed into each of redis-py's connection classes below.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py does: "SCRIPT LOAD" and friends arrive as one argument.
        first = args[0]
        if isinstance(first, str) and " " in first:
            args = (*first.split(), *args[1:])
        return [hiredis.pack_command(args)]


class HiredisPackingConnection(HiredisPacking, redis.asyncio.Connection):
    """TCP (``redis://``)."""


class HiredisPackingSSLConnection(HiredisPacking, redis.asyncio.SSLConnection):
    """TLS (``rediss://``)."""


class HiredisPackingUnixConnection(HiredisPacking, redis.asyncio.UnixDomainSocketConnection):
    """A Unix domain socket (``unix://``)."""
