"""What the container opens and closes: the Redis client and the durable backends (providers.Resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from pyworker.adapters.redis.client import RedisClient, redis_client
from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.application import Clock

if TYPE_CHECKING:
    from pyworker.adapters.memory.durable import InMemoryDurableBackend

__all__ = ["open_memory_backend", "open_redis_backend", "redis_client"]

async def open_redis_backend(
    client: RedisClient,
    prefix: str,
    clock: Clock,
    global_rate_limit: tuple[float, int] | None = None,
    queue_concurrency: Mapping[str, int] | None = None,
) -> AsyncIterator[RedisDurableBackend]:
    """The Redis durable backend on the container's client; closed (wake-up listener) before the client is."""
    backend = RedisDurableBackend(
        client=client,
        prefix=prefix,
        clock=clock,
        global_rate_limit=global_rate_limit,
        queue_concurrency=queue_concurrency,
    )
    try:
        yield backend
    finally:
        await backend.close()


async def open_memory_backend(
    clock: Clock,
    global_rate_limit: tuple[float, int] | None = None,
    queue_concurrency: Mapping[str, int] | None = None,
) -> AsyncIterator[InMemoryDurableBackend]:
    """The in-process durable backend; closing it wakes anything still waiting for work."""
    from pyworker.adapters.memory.durable import InMemoryDurableBackend  # not for a Redis worker
    backend = InMemoryDurableBackend(
        clock=clock, global_rate_limit=global_rate_limit, queue_concurrency=queue_concurrency
    )
    try:
        yield backend
    finally:
        await backend.close()
