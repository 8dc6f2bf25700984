"""Fixtures for the durable ports' contract suites: one ``env`` per adapter."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
import fakeredis
import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.adapters.redis import RedisClient, RedisDurableBackend, RedisDurableInspector, RedisKeys
from pyworker.application.ports import DurableBackend, DurableInspector, DurableQueue

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: A connection failure must surface at once in tests, not after redis-py's retries.
NO_RETRY = Retry(NoBackoff(), 0)


class LimitedNode(Protocol):
    def __call__(
        self, global_rate_limit: tuple[float, int] | None = None, queue_concurrency: Mapping[str, int] | None = None
    ) -> Awaitable[DurableBackend]: ...


@attrs.define
class DurableEnv:
    """One adapter under test.

    ``queue`` and ``inspector`` are the two ports on one store (for Redis a
    RedisDurableBackend and a RedisDurableInspector over its store; for memory one
    object). ``peer()`` is another worker node on the same store (for Redis a second
    client, for memory the same object); ``unreachable()`` both ports on a store that
    cannot be reached, or None where that cannot happen. ``limited(global_rate_limit,
    queue_concurrency)`` is a started node with those limits (for Redis on the same
    store, for memory a store of its own: use it for every call). ``prefix`` is the
    Redis key prefix ("" for memory).
    """

    kind: str
    clock: ManualClock
    queue: DurableQueue
    inspector: DurableInspector
    peer: Callable[[], Awaitable[DurableQueue]]
    unreachable: Callable[[], Awaitable[DurableBackend | None]]
    limited: LimitedNode
    prefix: str = ""


async def open_redis_env(
    kind: str,
    stack: contextlib.AsyncExitStack,
    connect: Callable[[], RedisClient],
    cleanup_node: Callable[[str], Awaitable[redis.asyncio.Redis]] | None = None,
    unreachable: Callable[[], RedisClient] | None = None,
) -> DurableEnv:
    """A Redis-backed env on a fresh prefix. ``connect()`` makes a client (closed at
    teardown); the prefix's keys, and only those, are deleted at teardown through
    ``cleanup_node(key)`` (a plain client on the node holding the prefix's slot).
    """
    clock = ManualClock()
    prefix = f"pyworker-test-{uuid.uuid4().hex}"

    def make(client_factory: Callable[[], RedisClient], **limits: Any) -> RedisDurableBackend:
        client = client_factory()
        stack.push_async_callback(client.aclose)
        backend = RedisDurableBackend(client, prefix=prefix, clock=clock, **limits)
        stack.push_async_callback(backend.close)
        return backend

    backend = make(connect)
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

    async def peer() -> DurableQueue:
        return make(connect)

    async def down() -> DurableBackend | None:
        return None if unreachable is None else make(unreachable)

    async def limited(
        global_rate_limit: tuple[float, int] | None = None, queue_concurrency: Mapping[str, int] | None = None
    ) -> DurableBackend:
        node = make(connect, global_rate_limit=global_rate_limit, queue_concurrency=queue_concurrency)
        # go-worker's bucket name is outside the prefix's braces (SCAN above misses it): this client routes it.
        stack.push_async_callback(node.store.client.delete, node.store.global_rate_key)
        await node.configure_queues("default", {})  # a node's start: its limits are stored
        return node

    # The inspector is the standalone half over the backend's own store: one client,
    # key table and script registry serve both ports.
    return DurableEnv(kind, clock, backend, RedisDurableInspector(backend.store), peer, down, limited, prefix)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((REDIS_HOST, 0))
        return int(sock.getsockname()[1])


async def _memory_env(stack: contextlib.AsyncExitStack) -> DurableEnv:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    stack.push_async_callback(backend.close)

    async def same() -> DurableQueue:
        return backend

    async def nothing() -> None:
        return None

    async def limited(
        global_rate_limit: tuple[float, int] | None = None, queue_concurrency: Mapping[str, int] | None = None
    ) -> DurableBackend:
        node = InMemoryDurableBackend(
            clock=clock, global_rate_limit=global_rate_limit, queue_concurrency=queue_concurrency
        )
        stack.push_async_callback(node.close)
        return node

    return DurableEnv("memory", clock, backend, backend, same, nothing, limited)


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
