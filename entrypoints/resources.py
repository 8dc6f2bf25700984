"""What the container opens and closes: the Redis client and the durable backends (providers.Resource)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis.asyncio
import redis.exceptions

from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.redis.connection import HiredisPackingConnection
from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.application import Clock
from pyworker.domain import BackendUnavailableError
from pyworker.entrypoints.redis_url import redact_url

logger = logging.getLogger(__name__)

#: Bounds connecting (docs/adr/0008-redis-client-settings.md); reads have no timeout.
SOCKET_CONNECT_TIMEOUT = 5.0
#: The shortest wait for one PING, so that a connect timeout of 0 still makes one real try.
_ONE_TRY = 1.0
_RETRY_PAUSE = 0.1
_RETRY_PAUSE_MAX = 1.0
#: What a Redis client raises when the server is away or is not a Redis server.
_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.InvalidResponse,
                OSError, TimeoutError)  # fmt: skip


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


async def ping_redis(client: redis.asyncio.Redis, url: str, timeout: float) -> None:
    """Return once Redis answers a PING; retry for ``timeout`` seconds (0: one try).

    Raises:
        BackendUnavailableError: no answer in time; the reason names the (redacted)
            URL and the last error.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = _RETRY_PAUSE
    while True:
        try:
            await asyncio.wait_for(client.ping(), max(deadline - loop.time(), _ONE_TRY))
        except _UNREACHABLE as exc:
            last = str(exc) or f"no answer ({type(exc).__name__})"
        else:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            waited = f" (retried for {timeout:g}s)" if timeout > 0 else ""
            raise BackendUnavailableError(reason=f"{redact_url(url)}: {last}{waited}")
        logger.info("redis %s not reachable yet (%s); retrying", redact_url(url), last)
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, _RETRY_PAUSE_MAX)
