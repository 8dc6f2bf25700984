"""The Redis adapter lets no technology error out: each becomes BackendUnavailableError (``from`` it)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, new_redis_client
from pyworker.adapters.redis import inspector as redis_inspector
from pyworker.domain import BackendUnavailableError, ConfigurationError, DurableState, DurableTask

HOST = "127.0.0.1"
NO_RETRY = Retry(NoBackoff(), 0)
BOUND = 5.0


def make_task(queue: str = "") -> DurableTask:
    return DurableTask(handler="report", payload=b"p", id=uuid.uuid4(), queue=queue)


@pytest.fixture
async def not_redis() -> AsyncIterator[int]:
    """A loopback port where an HTTP server answers whatever it is sent."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, HOST, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def test_ping_on_a_port_that_is_not_redis_is_backend_unavailable(not_redis: int) -> None:
    client = new_redis_client(f"redis://{HOST}:{not_redis}/0", retry=NO_RETRY)
    backend = RedisDurableBackend(client, prefix="not-redis")
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            await asyncio.wait_for(backend.ping(), BOUND)
        assert isinstance(caught.value.__cause__, redis.exceptions.RedisError)
        with pytest.raises(BackendUnavailableError):
            await asyncio.wait_for(backend.stats(), BOUND)
    finally:
        await backend.close()
        await client.aclose()


async def test_ping_on_a_closed_loopback_port_is_backend_unavailable() -> None:
    client = new_redis_client(f"redis://{HOST}:{closed_port()}/0", retry=NO_RETRY)
    backend = RedisDurableBackend(client, prefix="closed", close_client=True)
    try:
        with pytest.raises(BackendUnavailableError) as caught:
            await asyncio.wait_for(backend.ping(), BOUND)
        assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)
    finally:
        await backend.close()


@pytest.fixture
async def broken() -> AsyncIterator[tuple[RedisDurableBackend, RedisKeys]]:
    """A backend whose keys another program overwrote with the wrong types."""
    client = fakeredis.aioredis.FakeRedis()
    backend = RedisDurableBackend(client, prefix="broken", enqueue_chunk=1)
    await client.set(backend.keys.queues, "not a set")
    await client.set(backend.keys.dead, "not a list")
    yield backend, backend.keys
    await backend.close()
    await client.aclose()


async def test_a_command_redis_refuses_is_backend_unavailable(broken: tuple[RedisDurableBackend, RedisKeys]) -> None:
    backend, keys = broken
    with pytest.raises(BackendUnavailableError, match="WRONGTYPE") as caught:
        await backend.enqueue(make_task())
    assert isinstance(caught.value.__cause__, redis.exceptions.ResponseError)
    with pytest.raises(BackendUnavailableError, match="WRONGTYPE"):
        await backend.enqueue_many([make_task(), make_task()])  # two chunks: the pipelined path
    with pytest.raises(BackendUnavailableError, match="WRONGTYPE"):
        await backend.stats()
    with pytest.raises(BackendUnavailableError, match="WRONGTYPE"):
        await backend.list_tasks(DurableState.DEAD)
    task_id = uuid.uuid4()
    await backend.store.client.sadd(keys.task(task_id), "not a hash")
    with pytest.raises(BackendUnavailableError, match="WRONGTYPE"):
        await backend.get(task_id)


async def test_a_client_that_decodes_responses_is_refused() -> None:
    client = redis.asyncio.Redis(host=HOST, decode_responses=True)
    try:
        with pytest.raises(ConfigurationError, match="must not decode responses"):
            RedisDurableBackend(client)
    finally:
        await client.aclose()


async def test_a_queue_filtered_dlq_listing_scans_a_bounded_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page may come back short (even empty) with a cursor; paging on still finds every task."""
    monkeypatch.setattr(redis_inspector, "DLQ_SCAN_BUDGET", 3)
    client = fakeredis.aioredis.FakeRedis()
    backend = RedisDurableBackend(client, prefix="budget")
    try:
        tasks = [make_task("a" if i in (0, 9) else "b") for i in range(10)]
        await backend.enqueue_many(tasks)
        leases = {lease.task_id: lease for lease in await backend.dequeue(10, 30.0)}
        for task in tasks:  # the DLQ, newest first: a, then eight of b, then a
            assert task.id is not None
            await backend.fail(leases[task.id], "boom")
        sizes: list[int] = []
        found: list[uuid.UUID] = []
        cursor: str | None = None
        while True:
            page = await backend.list_tasks(DurableState.DEAD, "a", limit=5, cursor=cursor)
            sizes.append(len(page.records))
            found.extend(record.id for record in page.records)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert found == [tasks[9].id, tasks[0].id]
        assert sizes == [1, 0, 0, 1]  # windows of 3 DLQ entries: a b b | b b b | b b b | a
    finally:
        await backend.close()
        await client.aclose()
