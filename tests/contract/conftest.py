"""Fixtures for the DurableBackend contract suite: one ``env`` per adapter."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import fakeredis
import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: A connection failure must surface at once in tests, not after redis-py's retries.
NO_RETRY = Retry(NoBackoff(), 0)


@attrs.define
class DurableEnv:
    """One adapter under test.

    ``backend`` is the backend; ``peer()`` another backend on the same store (another
    node: for Redis a second client, for memory the same object); ``unreachable()`` a
    backend whose store cannot be reached, or None where that cannot happen.
    """

    kind: str
    clock: ManualClock
    backend: Any
    peer: Callable[[], Awaitable[Any]]
    unreachable: Callable[[], Awaitable[Any | None]]


async def open_redis_env(
    kind: str,
    stack: contextlib.AsyncExitStack,
    connect: Callable[[], Any],
    cleanup_node: Callable[[str], Awaitable[redis.asyncio.Redis]] | None = None,
    unreachable: Callable[[], Any] | None = None,
) -> DurableEnv:
    """A Redis-backed env on a fresh prefix. ``connect()`` makes a client (closed at
    teardown); the prefix's keys, and only those, are deleted at teardown through
    ``cleanup_node(key)`` (a plain client on the node holding the prefix's slot).
    """
    clock = ManualClock()
    prefix = f"pyworker-test-{uuid.uuid4().hex}"

    async def make(client_factory: Callable[[], Any]) -> RedisDurableBackend:
        client = client_factory()
        stack.push_async_callback(client.aclose)
        backend = RedisDurableBackend(client, prefix=prefix, clock=clock)
        stack.push_async_callback(backend.close)
        return backend

    backend = await make(connect)
    if cleanup_node is not None:
        keys = RedisKeys(prefix)

        async def delete_own_keys() -> None:
            node = await cleanup_node(keys.queues)
            try:
                found = [key async for key in node.scan_iter(match=keys.pattern, count=1000)]
                if found:
                    await node.delete(*found)
            finally:
                await node.aclose()

        stack.push_async_callback(delete_own_keys)

    async def peer() -> RedisDurableBackend:
        return await make(connect)

    async def down() -> RedisDurableBackend | None:
        return None if unreachable is None else await make(unreachable)

    return DurableEnv(kind, clock, backend, peer, down)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((REDIS_HOST, 0))
        return int(sock.getsockname()[1])


async def _memory_env(stack: contextlib.AsyncExitStack) -> DurableEnv:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    stack.push_async_callback(backend.close)

    async def same() -> InMemoryDurableBackend:
        return backend

    async def nothing() -> None:
        return None

    return DurableEnv("memory", clock, backend, same, nothing)


async def _fakeredis_env(stack: contextlib.AsyncExitStack) -> DurableEnv:
    server, lost = fakeredis.FakeServer(), fakeredis.FakeServer()
    lost.connected = False
    return await open_redis_env(
        "fakeredis",
        stack,
        lambda: fakeredis.aioredis.FakeRedis(server=server),
        unreachable=lambda: fakeredis.aioredis.FakeRedis(server=lost, retry=NO_RETRY),
    )


async def _redis_env(stack: contextlib.AsyncExitStack) -> DurableEnv:
    probe = redis.asyncio.Redis(host=REDIS_HOST, port=REDIS_PORT, retry=NO_RETRY)
    try:
        await probe.ping()
    except (redis.ConnectionError, OSError):
        pytest.skip(f"no Redis server on {REDIS_HOST}:{REDIS_PORT}")
    finally:
        await probe.aclose()

    async def node(_key: str) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(host=REDIS_HOST, port=REDIS_PORT)

    port = closed_port()
    return await open_redis_env(
        "redis",
        stack,
        lambda: redis.asyncio.Redis(host=REDIS_HOST, port=REDIS_PORT),
        cleanup_node=node,
        unreachable=lambda: redis.asyncio.Redis(host=REDIS_HOST, port=port, retry=NO_RETRY),
    )


_BUILDERS: dict[str, Callable[[contextlib.AsyncExitStack], Awaitable[DurableEnv]]] = {
    "memory": _memory_env,
    "fakeredis": _fakeredis_env,
    "redis": _redis_env,
}


@pytest.fixture(params=["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[DurableEnv]:
    async with contextlib.AsyncExitStack() as stack:
        yield await _BUILDERS[request.param](stack)
