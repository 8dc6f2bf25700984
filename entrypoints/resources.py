"""What the container opens and closes: the Redis client and the durable backends (providers.Resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio

from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.redis.connection import HiredisPackingConnection
from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.application import Clock

#: Bounds connecting (docs/adr/0008-redis-client-settings.md); reads have no timeout.
SOCKET_CONNECT_TIMEOUT = 5.0


async def open_redis_client(url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A Redis client for ``url``, closed when the container shuts down.

    The settings of docs/adr/0008-redis-client-settings.md: commands packed by
    hiredis, no per-read socket timeout, a bounded connect, TCP keepalive and a
    health check before reusing an idle connection. Nothing connects until the
    first command.
    """
    client = redis.asyncio.Redis.from_url(
        url,
        connection_class=HiredisPackingConnection,
        socket_timeout=None,
        socket_connect_timeout=SOCKET_CONNECT_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=30,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def open_redis_backend(
    client: redis.asyncio.Redis, prefix: str, clock: Clock
) -> AsyncIterator[RedisDurableBackend]:
    """The Redis durable backend on the container's client; closed (wake-up listener) before the client is."""
    backend = RedisDurableBackend(client=client, prefix=prefix, clock=clock)
    try:
        yield backend
    finally:
        await backend.close()


async def open_memory_backend(clock: Clock) -> AsyncIterator[InMemoryDurableBackend]:
    """The in-process durable backend; closing it wakes anything still waiting for work."""
    backend = InMemoryDurableBackend(clock=clock)
    try:
        yield backend
    finally:
        await backend.close()

