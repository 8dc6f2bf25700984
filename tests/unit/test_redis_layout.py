"""The Redis task hash and ready-set layout (docs/durable.md#redis-layout, docs/adr/0017): defaults
are left out of the hash and read back as defaults; a rank is 28 bytes and ends with the id.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import fakeredis
import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.redis import RedisDurableBackend
from pyworker.adapters.redis.records import uuid_from_bytes
from pyworker.domain import DurableState, DurableTask


@pytest.fixture
async def backend() -> AsyncIterator[RedisDurableBackend]:
    client = fakeredis.aioredis.FakeRedis(server=fakeredis.FakeServer())
    backend = RedisDurableBackend(client, prefix="layout", clock=ManualClock(start=1_700_000_000.0))
    yield backend
    await backend.close()
    await client.aclose()


def task_id(task: DurableTask) -> uuid.UUID:
    assert task.id is not None
    return task.id


async def fields(backend: RedisDurableBackend, task: DurableTask) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = await backend.store.client.hgetall(backend.keys.task(task_id(task)))  # type: ignore[assignment]  # no decoding
    return found


async def test_a_task_with_every_default_stores_five_fields(backend: RedisDurableBackend) -> None:
    task = DurableTask(handler="noop", payload=b"{}", id=uuid.uuid4())
    await backend.enqueue(task)

    assert await fields(backend, task) == {
        b"handler": b"noop", b"payload": b"{}", b"ready_at_ms": b"1700000000000", b"seq": b"1", b"state": b"ready",
    }  # fmt: skip
    record = await backend.get(task_id(task))
    assert (record.queue, record.priority, record.weight, record.retries, record.retry_delay) == ("default", 0, 1, 0, 0)
    assert (record.attempts, record.updated_at, record.ready_at) == (0, 1_700_000_000.0, 1_700_000_000.0)
    assert (dict(record.metadata), record.idempotency_key) == ({}, "")


async def test_fields_that_differ_from_their_default_are_stored(backend: RedisDurableBackend) -> None:
    task = DurableTask(handler="h", payload=b"p", id=uuid.uuid4(), priority=-3, queue="q", weight=7, retries=2,
                       retry_delay=1.5, run_at=1_700_000_060.0, metadata={"k": "v"}, idempotency_key="i",
                       name="n")  # fmt: skip
    await backend.enqueue(task)

    stored = await fields(backend, task)
    assert {k: stored[k] for k in (b"priority", b"queue", b"weight", b"retries", b"retry_delay_ms", b"run_at_ms")} == {
        b"priority": b"-3", b"queue": b"q", b"weight": b"7", b"retries": b"2", b"retry_delay_ms": b"1500",
        b"run_at_ms": b"1700000060000",
    }  # fmt: skip
    assert (stored[b"metadata"], stored[b"idempotency_key"], stored[b"name"]) == (b'{"k":"v"}', b"i", b"n")
    assert (stored[b"state"], stored[b"updated_at_ms"], stored[b"ready_at_ms"]) == (
        b"delayed", b"1700000000000", b"1700000060000",
    )  # fmt: skip


async def test_a_rank_is_the_inverted_weight_the_sequence_and_the_id_bytes(backend: RedisDurableBackend) -> None:
    first, second = (DurableTask(handler="h", payload=b"p", id=uuid.uuid4(), weight=3) for _ in range(2))
    await backend.enqueue_many([first, second])

    members: list[bytes] = await backend.store.client.zrange(backend.keys.ready("default"), 0, -1)  # type: ignore[assignment]

    inverted = (2**31 - 1 - 3).to_bytes(4, "big")
    assert members == [inverted + (1).to_bytes(8, "big") + task_id(first).bytes,
                       inverted + (2).to_bytes(8, "big") + task_id(second).bytes]  # fmt: skip


async def test_a_lease_reads_the_defaults_back(backend: RedisDurableBackend) -> None:
    task = DurableTask(handler="noop", payload=b"{}", id=uuid.uuid4())
    await backend.enqueue(task)

    [lease] = await backend.dequeue(1, 30)

    assert lease.task == DurableTask(handler="noop", payload=b"{}", id=task.id, queue="default", weight=1)
    assert (lease.attempts, lease.max_retries) == (1, 0)
    assert (await backend.get(task_id(task))).state is DurableState.PROCESSING
    assert (await fields(backend, task))[b"updated_at_ms"] == b"1700000000000"


async def test_a_move_to_the_default_queue_drops_the_queue_field(backend: RedisDurableBackend) -> None:
    task = DurableTask(handler="h", payload=b"p", id=uuid.uuid4(), queue="other")
    await backend.enqueue(task)

    assert await backend.requeue([task_id(task)], queue="default") == 1

    assert b"queue" not in await fields(backend, task)
    [lease] = await backend.dequeue(1, 30)
    assert (lease.task.id, lease.task.queue) == (task.id, "default")


def test_uuid_from_bytes_is_the_uuid_of_those_bytes() -> None:
    value = uuid.uuid4()
    parsed = uuid_from_bytes(value.bytes)
    assert parsed == value
    assert (hash(parsed), str(parsed), parsed.bytes, parsed.version) == (hash(value), str(value), value.bytes, 4)
    assert {value: 1}[parsed] == 1
