"""The DurableInspector contract (what an operator needs): one suite, run against every adapter (see conftest.py)."""

from __future__ import annotations

import uuid

import attrs
import pytest

from pyworker.domain import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BackendUnavailableError,
    DurableState,
    InvalidTaskError,
    TaskNotFoundError,
    WorkerError,
)

from .conftest import DurableEnv
from .durable_support import dequeue_all, list_all, make_task


async def test_pause_and_resume_globally_and_per_queue(env: DurableEnv) -> None:
    a, b = make_task(queue="a"), make_task(queue="b")
    await env.queue.enqueue(a)
    await env.queue.enqueue(b)

    await env.inspector.pause()
    assert await dequeue_all(env.queue) == []
    assert (await env.inspector.stats()).paused is True
    await env.inspector.resume()
    await env.inspector.pause("a")
    stats = await env.inspector.stats()
    assert stats.paused is False
    assert {q.queue: q.paused for q in stats.queues}["a"] is True

    assert [lease.task_id for lease in await dequeue_all(env.queue)] == [b.id]
    assert await dequeue_all(env.queue) == []
    await env.inspector.resume("a")
    assert [lease.task_id for lease in await dequeue_all(env.queue)] == [a.id]


async def test_stats_get_and_list_tasks(env: DurableEnv) -> None:
    ready = [make_task(queue="a", priority=2), make_task(queue="a", priority=1), make_task(queue="b")]
    delayed = make_task(queue="b", run_at=env.clock.now() + 30)
    for task in [*ready, delayed]:
        await env.queue.enqueue(task)
    await env.inspector.pause("c")

    stats = await env.inspector.stats()
    counts = {q.queue: (q.ready, q.delayed, q.processing, q.paused) for q in stats.queues}
    assert counts == {
        "a": (2, 0, 0, False), "b": (1, 1, 0, False), "c": (0, 0, 0, True), "default": (0, 0, 0, False),
    }  # fmt: skip
    page = await env.inspector.list_tasks(DurableState.READY)
    assert [r.id for r in page.records] == [ready[1].id, ready[0].id, ready[2].id]
    assert page.next_cursor is None
    first = await env.inspector.list_tasks(DurableState.READY, queue="a", limit=1)
    assert [r.id for r in first.records] == [ready[1].id]
    rest = await env.inspector.list_tasks(DurableState.READY, queue="a", limit=1, cursor=first.next_cursor)
    assert ([r.id for r in rest.records], rest.next_cursor) == ([ready[0].id], None)
    delayed_page = await env.inspector.list_tasks(DurableState.DELAYED, queue="b")
    assert [r.id for r in delayed_page.records] == [delayed.id]
    record = await env.inspector.get(delayed.id)
    assert record.state is DurableState.DELAYED
    assert record.ready_at == pytest.approx(env.clock.now() + 30)

    [lease] = await env.queue.dequeue(1, 30.0)
    processing = (await env.inspector.list_tasks(DurableState.PROCESSING)).records
    assert [r.id for r in processing] == [lease.task_id]
    assert processing[0].lease_expires_at == pytest.approx(lease.expires_at)
    assert (await env.inspector.stats()).total_processing == 1
    with pytest.raises(TaskNotFoundError):
        await env.inspector.get(uuid.uuid4())


async def test_a_listing_without_payloads_is_the_same_records_with_empty_payloads(env: DurableEnv) -> None:
    """Every field but the payload comes back (ready, delayed, processing and dead alike)."""
    full = {"priority": 2, "weight": 3, "retries": 1, "retry_delay": 2.5, "metadata": {"tenant": "t1"},
            "idempotency_key": "order-7", "payload": b"x" * 70_000}  # fmt: skip
    ready = make_task(queue="a", **full)
    delayed = make_task(queue="b", run_at=env.clock.now() + 30, payload=b"later")
    leased, failed = make_task(queue="c", payload=b"held"), make_task(queue="d", payload=b"dead")
    for task in (leased, failed):
        await env.queue.enqueue(task)
    leases = {lease.task_id: lease for lease in await dequeue_all(env.queue)}
    await env.queue.fail(leases[failed.id], "boom")
    await env.queue.enqueue(ready)
    await env.queue.enqueue(delayed)

    for state, task in ((DurableState.READY, ready), (DurableState.DELAYED, delayed),
                        (DurableState.PROCESSING, leased), (DurableState.DEAD, failed)):  # fmt: skip
        with_payloads = await env.inspector.list_tasks(state)
        without = await env.inspector.list_tasks(state, payloads=False)
        assert [r.id for r in with_payloads.records] == [task.id], state
        assert with_payloads.records[0].payload == task.payload
        assert without.records == tuple(attrs.evolve(r, payload=b"") for r in with_payloads.records), state
        assert without.next_cursor == with_payloads.next_cursor
    dead = (await env.inspector.list_tasks(DurableState.DEAD, queue="d", payloads=False)).records
    assert [(r.id, r.last_error, r.payload) for r in dead] == [(failed.id, "boom", b"")]
    assert dead[0].failed_at is not None
    assert (await env.inspector.get(ready.id)).payload == ready.payload  # the store keeps it


async def test_list_pages_through_more_than_one_default_page(env: DurableEnv) -> None:
    tasks = [make_task(queue="b", priority=i) for i in range(120)] + [make_task(queue="a") for _ in range(130)]
    assert await env.queue.enqueue_many(tasks) == [t.id for t in tasks]
    expected = [t.id for t in tasks[120:]] + [t.id for t in tasks[:120]]  # queues alphabetical

    seen: list[uuid.UUID] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = await env.inspector.list_tasks(DurableState.READY, cursor=cursor)
        seen.extend(r.id for r in page.records)
        sizes.append(len(page.records))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == expected
    assert sizes == [DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE, 50]
    only_b = await list_all(env.inspector, DurableState.READY, queue="b", page_size=7)
    assert [r.id for r in only_b] == [t.id for t in tasks[:120]]


async def test_a_limit_past_the_page_cap_is_served_in_pages_not_truncated(env: DurableEnv) -> None:
    tasks = [make_task() for _ in range(MAX_PAGE_SIZE + 1)]
    await env.queue.enqueue_many(tasks)

    first = await env.inspector.list_tasks(DurableState.READY, limit=MAX_PAGE_SIZE * 5)
    assert len(first.records) == MAX_PAGE_SIZE
    assert first.next_cursor is not None
    last = await env.inspector.list_tasks(DurableState.READY, limit=MAX_PAGE_SIZE * 5, cursor=first.next_cursor)
    assert [r.id for r in last.records] == [tasks[-1].id]
    assert last.next_cursor is None


async def test_dlq_pages_newest_first_whole_or_by_queue(env: DurableEnv) -> None:
    tasks = [make_task(queue="a" if i % 3 else "b") for i in range(9)]
    for task in tasks:
        await env.queue.enqueue(task)
    leases = {lease.task_id: lease for lease in await dequeue_all(env.queue)}
    for task in tasks:  # failed in enqueue order: the DLQ lists them backwards
        await env.queue.fail(leases[task.id], "boom")
        env.clock.advance(1.0)
    newest_first = [t.id for t in reversed(tasks)]

    assert [r.id for r in await list_all(env.inspector, DurableState.DEAD, page_size=2)] == newest_first
    for queue in ("a", "b"):
        listed = await list_all(env.inspector, DurableState.DEAD, queue=queue, page_size=2)
        assert [r.id for r in listed] == [i for i in newest_first if leases[i].task.queue == queue]
        assert {r.state for r in listed} == {DurableState.DEAD}
    page = await env.inspector.list_tasks(DurableState.DEAD, limit=4)
    assert len(page.records) == 4
    assert page.next_cursor is not None


async def test_a_cursor_past_the_end_gives_an_empty_last_page(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task())
    page = await env.inspector.list_tasks(DurableState.READY, cursor="5")
    assert (page.records, page.next_cursor) == ((), None)
    empty = await env.inspector.list_tasks(DurableState.PROCESSING, queue="nowhere")
    assert (empty.records, empty.next_cursor) == ((), None)


@pytest.mark.parametrize(
    ("state", "limit", "cursor"),
    [
        ("sideways", DEFAULT_PAGE_SIZE, None),
        (DurableState.UNKNOWN, DEFAULT_PAGE_SIZE, None),
        (DurableState.READY, 0, None),
        (DurableState.READY, -1, None),
        (DurableState.READY, DEFAULT_PAGE_SIZE, "abc"),
        (DurableState.READY, DEFAULT_PAGE_SIZE, "-1"),
    ],
)
async def test_a_bad_listing_request_is_a_worker_error(
    env: DurableEnv, state: DurableState, limit: int, cursor: str | None
) -> None:
    with pytest.raises(InvalidTaskError) as caught:
        await env.inspector.list_tasks(state, limit=limit, cursor=cursor)
    assert isinstance(caught.value, WorkerError)
    assert "\n" not in str(caught.value)


async def test_unreachable_store_raises_backend_unavailable(env: DurableEnv) -> None:
    down = await env.unreachable()
    if down is None:
        pytest.skip(f"{env.kind} has no remote store to lose")
    with pytest.raises(BackendUnavailableError):
        await down.stats()
    with pytest.raises(BackendUnavailableError):
        await down.get(uuid.uuid4())
    with pytest.raises(BackendUnavailableError):
        await down.list_tasks(DurableState.DEAD)
    with pytest.raises(BackendUnavailableError):
        await down.pause("a")
