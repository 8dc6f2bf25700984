"""DurableAdmin: the operator actions over the DurableInspector port, on the in-memory adapter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import DurableAdmin
from pyworker.domain import DurableState, DurableTask, InvalidTaskError, TaskNotFoundError


@pytest.fixture
async def backend() -> AsyncIterator[InMemoryDurableBackend]:
    store = InMemoryDurableBackend(clock=ManualClock())
    yield store
    await store.close()


@pytest.fixture
def admin(backend: InMemoryDurableBackend) -> DurableAdmin:
    return DurableAdmin(backend)


def task(queue: str = "", priority: int = 0) -> DurableTask:
    return DurableTask(handler="report", payload=b"p", id=uuid.uuid4(), queue=queue, priority=priority)


async def enqueue(backend: InMemoryDurableBackend, *tasks: DurableTask) -> list[uuid.UUID]:
    return [await backend.enqueue(t) for t in tasks]


async def test_stats_counts_per_queue(admin: DurableAdmin, backend: InMemoryDurableBackend) -> None:
    await enqueue(backend, task("a"), task("a"), task("b"))
    stats = await admin.stats()
    assert {q.queue: q.ready for q in stats.queues} == {"a": 2, "b": 1, "default": 0}
    assert (stats.total_ready, stats.dead, stats.paused) == (3, 0, False)


async def test_get_takes_a_uuid_or_its_text(admin: DurableAdmin, backend: InMemoryDurableBackend) -> None:
    [task_id] = await enqueue(backend, task("a"))
    assert (await admin.get(task_id)).queue == "a"
    assert (await admin.get(f"  {task_id}\n")).id == task_id
    with pytest.raises(TaskNotFoundError):
        await admin.get(str(uuid.uuid4()))
    with pytest.raises(InvalidTaskError, match="invalid task id 'nope'"):
        await admin.get("nope")


async def test_list_takes_a_state_by_name_and_pages(admin: DurableAdmin, backend: InMemoryDurableBackend) -> None:
    ids = await enqueue(backend, *(task("a", priority=i) for i in range(5)))

    first = await admin.list_tasks("ready", limit=2)
    second = await admin.list_tasks(" READY ", limit=2, cursor=first.next_cursor)
    third = await admin.list_tasks(DurableState.READY, limit=2, cursor=second.next_cursor)

    assert [r.id for page in (first, second, third) for r in page.records] == ids
    assert third.next_cursor is None
    assert (await admin.list_tasks("dead", queue="a")).records == ()


@pytest.mark.parametrize("state", ["sideways", "unknown", ""])
async def test_a_state_that_cannot_be_listed_is_refused(admin: DurableAdmin, state: str) -> None:
    with pytest.raises(InvalidTaskError, match="expected one of ready, delayed, processing, dead"):
        await admin.list_tasks(state)
    with pytest.raises(InvalidTaskError):
        await anext(admin.iter_tasks(state))


async def test_iter_tasks_reads_every_page(admin: DurableAdmin, backend: InMemoryDurableBackend) -> None:
    ids = await enqueue(backend, *(task("b") for _ in range(130)), *(task("a") for _ in range(120)))

    seen = [record.id async for record in admin.iter_tasks("ready", page_size=100)]

    assert seen == ids[130:] + ids[:130]  # queues alphabetical, each in dequeue order
    assert [r.id async for r in admin.iter_tasks("ready", queue="b", page_size=7)] == ids[:130]


async def test_pause_and_resume_all_and_one_queue(admin: DurableAdmin, backend: InMemoryDurableBackend) -> None:
    a_id, b_id = await enqueue(backend, task("a"), task("b"))

    await admin.pause()
    assert (await admin.stats()).paused is True
    assert await backend.dequeue(10, 30.0) == []
    await admin.resume()
    await admin.pause("a")
    stats = await admin.stats()
    assert stats.paused is False
    assert {q.queue: q.paused for q in stats.queues} == {"a": True, "b": False, "default": False}
    assert [lease.task_id for lease in await backend.dequeue(10, 30.0)] == [b_id]
    await admin.resume("a")
    assert [lease.task_id for lease in await backend.dequeue(10, 30.0)] == [a_id]
