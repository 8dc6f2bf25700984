"""The hiredis-packing connections must put the same bytes on the wire as redis-py's own packer."""

from __future__ import annotations

import pytest
import redis.asyncio

from pyworker.adapters.redis.connection import (
    HiredisPacking,
    HiredisPackingConnection,
    HiredisPackingSSLConnection,
    HiredisPackingUnixConnection,
)

CASES = [
    ("PING",),
    ("EVALSHA", "a" * 40, 3, "{p}:queues", "{p}:seq", "{p}:wake", "{p}", 1_700_000_000_123, 1, b"\x00\xff:blob"),
    ("SCRIPT LOAD", "return 1"),
    ("HSET", "{p}:task:1", "name", "héllo", "n", -5),
]


@pytest.mark.parametrize("args", CASES)
@pytest.mark.parametrize(
    "connection_class", [HiredisPackingConnection, HiredisPackingSSLConnection, HiredisPackingUnixConnection]
)
def test_packs_like_redis_py(args: tuple[str | int | bytes, ...], connection_class: type[HiredisPacking]) -> None:
    ours = b"".join(connection_class().pack_command(*args))
    theirs = b"".join(redis.asyncio.Connection().pack_command(*args))
    assert ours == theirs
