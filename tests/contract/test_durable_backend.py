"""The DurableBackend contract: one suite, run against every adapter (see conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import attrs
import pytest

from pyworker.domain.durable import DurableState, DurableTask
from pyworker.domain.errors import (
    BackendUnavailableError,
    DurableLeaseNotFoundError,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)

from .conftest import DurableEnv

#: A bound on real time for waits that must end long before it (no test sleeps).
PROMPTLY = 10.0


def make_task(**fields: Any) -> DurableTask:
    fields.setdefault("handler", "send_email")
    fields.setdefault("payload", b"payload")
    fields.setdefault("id", uuid.uuid4())
    return DurableTask(**fields)


async def dequeue_all(backend: Any, lease: float = 30.0) -> list[Any]:
    return await backend.dequeue(1000, lease)


async def test_roundtrip_keeps_payload_metadata_and_key(env: DurableEnv) -> None:
    task = make_task(
        payload=b"\x00\xffbinary",
        priority=3,
        queue="emails",
        weight=2,
        retries=4,
        retry_delay=1.5,
        metadata={"tenant": "acme", "trace": "t-1"},
        idempotency_key="order-42",
        name="welcome",
    )
    assert await env.backend.enqueue(task) == task.id

    [lease] = await env.backend.dequeue(5, 30.0)

    got = lease.task
    assert (got.id, got.handler, got.payload, got.priority, got.queue, got.weight) == (
        task.id, "send_email", b"\x00\xffbinary", 3, "emails", 2,
    )  # fmt: skip
    assert (got.retries, got.retry_delay, dict(got.metadata)) == (4, 1.5, {"tenant": "acme", "trace": "t-1"})
    assert (got.idempotency_key, got.name) == ("order-42", "welcome")
    assert (lease.attempts, lease.max_retries) == (1, 4)
    assert lease.token
    assert lease.expires_at == pytest.approx(env.clock.now() + 30.0)
    record = await env.backend.get(task.id)
    assert (record.state, record.attempts, record.queue) == (DurableState.PROCESSING, 1, "emails")
    assert (record.payload, dict(record.metadata), record.idempotency_key) == (
        b"\x00\xffbinary", {"tenant": "acme", "trace": "t-1"}, "order-42",
    )  # fmt: skip


async def test_large_binary_payload_survives_the_roundtrip(env: DurableEnv) -> None:
    payload = bytes(range(256)) * 300  # every byte value; a length that needs three bytes
    task = make_task(payload=payload, name="ünïcode", metadata={"k": "v" * 300})
    await env.backend.enqueue_many([task, make_task()])

    leases = await dequeue_all(env.backend)

    assert leases[0].task.payload == payload
    assert leases[0].task.name == "ünïcode"
    assert leases[0].task.metadata == {"k": "v" * 300}
    assert len(leases) == 2


async def test_blank_queue_and_weight_get_defaults(env: DurableEnv) -> None:
    await env.backend.enqueue(make_task(queue="  ", weight=0))
    [lease] = await dequeue_all(env.backend)
    assert (lease.task.queue, lease.task.weight) == ("default", 1)


async def test_duplicate_id_is_refused(env: DurableEnv) -> None:
    task = make_task()
    await env.backend.enqueue(task)
    with pytest.raises(DurableTaskExistsError):
        await env.backend.enqueue(make_task(id=task.id, payload=b"other"))
    assert (await env.backend.stats()).total_ready == 1
    assert (await env.backend.get(task.id)).payload == b"payload"


async def test_idempotency_key_returns_the_existing_id(env: DurableEnv) -> None:
    first = make_task(idempotency_key="charge-7")
    second = make_task(idempotency_key="charge-7")
    assert await env.backend.enqueue(first) == first.id
    assert await env.backend.enqueue(second) == first.id
    with pytest.raises(TaskNotFoundError):
        await env.backend.get(second.id)
    assert (await env.backend.stats()).total_ready == 1
    # Still deduplicated right after the first task is done (the key outlives the task).
    [lease] = await dequeue_all(env.backend)
    await env.backend.ack(lease)
    assert await env.backend.enqueue(make_task(idempotency_key="charge-7")) == first.id
    assert (await env.backend.stats()).total_ready == 0


async def test_exact_order_within_a_queue(env: DurableEnv) -> None:
    # (priority, weight) in enqueue order; expected: priority asc, weight desc, then FIFO.
    specs = [(5, 1), (1, 1), (1, 3), (-2, 1), (1, 3), (5, 9), (1, 1), (2**31 - 1, 1), (-(2**31), 2)]
    tasks = [make_task(priority=p, weight=w) for p, w in specs]
    for task in tasks:
        await env.backend.enqueue(task)
    expected = [t.id for _, t in sorted(enumerate(tasks), key=lambda it: (it[1].priority, -it[1].weight, it[0]))]

    listed = await env.backend.list_tasks("ready", limit=0)
    leases = await dequeue_all(env.backend)

    assert [r.id for r in listed] == expected
    assert [lease.task_id for lease in leases] == expected


async def test_delayed_task_becomes_ready_exactly_when_due(env: DurableEnv) -> None:
    now = env.clock.now()
    later = make_task(run_at=now + 5.0)
    past = make_task(run_at=now - 60.0)
    await env.backend.enqueue(later)
    await env.backend.enqueue(past)

    [lease] = await dequeue_all(env.backend)
    assert lease.task_id == past.id
    stats = await env.backend.stats()
    assert (stats.total_delayed, stats.total_ready) == (1, 0)
    assert [r.id for r in await env.backend.list_tasks("delayed")] == [later.id]

    env.clock.advance(4.0)
    assert await dequeue_all(env.backend) == []
    env.clock.advance(0.999)
    assert await dequeue_all(env.backend) == []
    env.clock.advance(0.001)
    [lease] = await dequeue_all(env.backend)
    assert (lease.task_id, lease.attempts) == (later.id, 1)


async def test_weighted_round_robin_across_queues(env: DurableEnv) -> None:
    await env.backend.configure_queues("default", {"a": 2, "b": 1})
    for queue in ("b", "a"):
        for _ in range(3):
            await env.backend.enqueue(make_task(queue=queue))

    leases = await env.backend.dequeue(6, 30.0)

    assert [lease.task.queue for lease in leases] == ["a", "a", "b", "a", "b", "b"]


async def test_a_node_limited_to_some_queues_leases_only_from_them(env: DurableEnv) -> None:
    for queue in ("a", "b", "c"):
        await env.backend.enqueue(make_task(queue=queue))
    await env.backend.configure_queues("default", {}, ["c", "a"])

    leased = sorted(lease.task.queue for lease in await dequeue_all(env.backend))

    assert leased == ["a", "c"]
    await env.backend.configure_queues("default", {})  # all queues again
    assert [lease.task.queue for lease in await dequeue_all(env.backend)] == ["b"]


async def test_stale_token_is_refused_and_changes_nothing(env: DurableEnv) -> None:
    task = make_task()
    await env.backend.enqueue(task)
    [lease] = await dequeue_all(env.backend, lease=10.0)
    before = await env.backend.get(task.id)
    stale = attrs.evolve(lease, token="not-the-token")
    unknown = attrs.evolve(lease, task=make_task())

    for bad in (stale, unknown):
        with pytest.raises(DurableLeaseNotFoundError):
            await env.backend.ack(bad)
        with pytest.raises(DurableLeaseNotFoundError):
            await env.backend.nack(bad, 0.0)
        with pytest.raises(DurableLeaseNotFoundError):
            await env.backend.fail(bad, "boom")
        with pytest.raises(DurableLeaseNotFoundError):
            await env.backend.extend(bad, 60.0)

    assert await env.backend.get(task.id) == before
    stats = await env.backend.stats()
    assert (stats.total_processing, stats.total_ready, stats.total_delayed, stats.dead) == (1, 0, 0, 0)
    await env.backend.ack(lease)
    with pytest.raises(TaskNotFoundError):
        await env.backend.get(task.id)


async def test_expired_lease_is_redelivered_and_the_old_token_fenced(env: DurableEnv) -> None:
    task = make_task()
    await env.backend.enqueue(task)
    [first] = await dequeue_all(env.backend, lease=10.0)

    env.clock.advance(9.999)
    assert await dequeue_all(env.backend) == []
    env.clock.advance(0.001)
    [second] = await dequeue_all(env.backend, lease=10.0)

    assert (second.task_id, second.attempts) == (task.id, 2)
    assert second.token != first.token
    with pytest.raises(DurableLeaseNotFoundError):
        await env.backend.extend(first, 30.0)
    with pytest.raises(DurableLeaseNotFoundError):
        await env.backend.ack(first)
    await env.backend.ack(second)
    assert (await env.backend.stats()).total_processing == 0


async def test_extend_keeps_the_lease(env: DurableEnv) -> None:
    await env.backend.enqueue(make_task())
    [lease] = await dequeue_all(env.backend, lease=10.0)
    env.clock.advance(8.0)
    renewed = await env.backend.extend(lease, 10.0)
    assert renewed.expires_at == pytest.approx(env.clock.now() + 10.0)
    assert renewed.token == lease.token

    env.clock.advance(9.0)  # past the first expiry, before the renewed one
    assert await dequeue_all(env.backend) == []
    env.clock.advance(1.0)
    [again] = await dequeue_all(env.backend)
    assert again.attempts == 2


async def test_nack_delays_the_retry(env: DurableEnv) -> None:
    task = make_task()
    await env.backend.enqueue(task)
    [lease] = await dequeue_all(env.backend)

    await env.backend.nack(lease, 5.0)
    assert (await env.backend.get(task.id)).state is DurableState.DELAYED
    env.clock.advance(4.999)
    assert await dequeue_all(env.backend) == []
    env.clock.advance(0.001)
    [retry] = await dequeue_all(env.backend)
    assert (retry.task_id, retry.attempts) == (task.id, 2)

    await env.backend.nack(retry, 0.0)
    [third] = await dequeue_all(env.backend)
    assert third.attempts == 3
    with pytest.raises(DurableLeaseNotFoundError):
        await env.backend.ack(retry)


async def test_fail_moves_the_task_to_the_dlq_newest_first(env: DurableEnv) -> None:
    older, newer = make_task(queue="a"), make_task(queue="b")
    await env.backend.enqueue(older)
    await env.backend.enqueue(newer)
    leases = {lease.task_id: lease for lease in await dequeue_all(env.backend, lease=10.0)}
    failed_first_at = env.clock.now()
    await env.backend.fail(leases[older.id], "first error")
    env.clock.advance(1.0)
    await env.backend.fail(leases[newer.id], "second error")

    dead = await env.backend.list_tasks("dead")
    assert [r.id for r in dead] == [newer.id, older.id]
    assert [(r.state, r.last_error) for r in dead] == [
        (DurableState.DEAD, "second error"), (DurableState.DEAD, "first error"),
    ]  # fmt: skip
    assert dead[1].failed_at == pytest.approx(failed_first_at)
    assert dead[0].failed_at == pytest.approx(failed_first_at + 1.0)
    assert [r.id for r in await env.backend.list_tasks("dead", queue="a")] == [older.id]
    assert (await env.backend.stats()).dead == 2
    env.clock.advance(60.0)  # dead tasks are not leased any more: nothing to reclaim
    assert await dequeue_all(env.backend) == []
    with pytest.raises(DurableTaskExistsError):
        await env.backend.enqueue(make_task(id=older.id))


async def test_release_returns_unstarted_leases_without_counting_them(env: DurableEnv) -> None:
    tasks = [make_task() for _ in range(3)]
    for task in tasks:
        await env.backend.enqueue(task)
    leases = await env.backend.dequeue(2, 30.0)

    await env.backend.release([*leases, attrs.evolve(leases[0], token="stale")])

    again = await dequeue_all(env.backend)
    assert [lease.task_id for lease in again] == [t.id for t in tasks]
    assert [lease.attempts for lease in again] == [1, 1, 1]
    with pytest.raises(DurableLeaseNotFoundError):
        await env.backend.ack(leases[0])


async def test_pause_and_resume_globally_and_per_queue(env: DurableEnv) -> None:
    a, b = make_task(queue="a"), make_task(queue="b")
    await env.backend.enqueue(a)
    await env.backend.enqueue(b)

    await env.backend.pause()
    assert await dequeue_all(env.backend) == []
    assert (await env.backend.stats()).paused is True
    await env.backend.resume()
    await env.backend.pause("a")
    stats = await env.backend.stats()
    assert stats.paused is False
    assert {q.queue: q.paused for q in stats.queues}["a"] is True

    assert [lease.task_id for lease in await dequeue_all(env.backend)] == [b.id]
    assert await dequeue_all(env.backend) == []
    await env.backend.resume("a")
    assert [lease.task_id for lease in await dequeue_all(env.backend)] == [a.id]


async def test_wait_for_work_is_woken_by_an_enqueue_from_another_client(env: DurableEnv) -> None:
    other = await env.peer()
    waiter = asyncio.ensure_future(env.backend.wait_for_work(60.0))
    for _ in range(3):
        await asyncio.sleep(0)  # let the waiter block (a yield, not a timed sleep)
    assert not waiter.done()

    await other.enqueue(make_task())

    await asyncio.wait_for(waiter, PROMPTLY)
    assert len(await dequeue_all(env.backend)) == 1


async def test_wait_and_dequeue_leases_what_an_enqueue_from_another_client_brings(env: DurableEnv) -> None:
    other = await env.peer()
    waiter = asyncio.ensure_future(env.backend.wait_and_dequeue(16, 30.0, 60.0))
    for _ in range(3):
        await asyncio.sleep(0)  # let the waiter block (a yield, not a timed sleep)
    assert not waiter.done()
    task = make_task()

    await other.enqueue(task)

    leases = await asyncio.wait_for(waiter, PROMPTLY)
    assert [lease.task_id for lease in leases] == [task.id]
    assert (await env.backend.get(task.id)).state is DurableState.PROCESSING
    await env.backend.ack(leases[0])


async def test_wait_and_dequeue_cancelled_while_it_blocks_grants_nothing(env: DurableEnv) -> None:
    waiter = asyncio.ensure_future(env.backend.wait_and_dequeue(16, 30.0, 60.0))
    for _ in range(3):
        await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    task = make_task()

    await (await env.peer()).enqueue(task)

    assert (await env.backend.get(task.id)).state is DurableState.READY  # nobody leased it
    assert [lease.task_id for lease in await dequeue_all(env.backend)] == [task.id]


async def test_wait_for_work_ends_when_a_delayed_task_falls_due(env: DurableEnv) -> None:
    await env.backend.enqueue(make_task(run_at=env.clock.now() + 0.2))
    assert await dequeue_all(env.backend) == []
    await asyncio.wait_for(env.backend.wait_for_work(60.0), PROMPTLY)  # the enqueue's wake-up

    waiter = asyncio.ensure_future(env.backend.wait_for_work(60.0))
    await asyncio.sleep(0)
    env.clock.advance(0.2)  # Redis waits 0.2 s of real time; memory waits on the clock
    await asyncio.wait_for(waiter, PROMPTLY)
    assert len(await dequeue_all(env.backend)) == 1


async def test_stats_get_and_list_tasks(env: DurableEnv) -> None:
    ready = [make_task(queue="a", priority=2), make_task(queue="a", priority=1), make_task(queue="b")]
    delayed = make_task(queue="b", run_at=env.clock.now() + 30)
    for task in [*ready, delayed]:
        await env.backend.enqueue(task)
    await env.backend.pause("c")

    stats = await env.backend.stats()
    counts = {q.queue: (q.ready, q.delayed, q.processing, q.paused) for q in stats.queues}
    assert counts == {
        "a": (2, 0, 0, False), "b": (1, 1, 0, False), "c": (0, 0, 0, True), "default": (0, 0, 0, False),
    }  # fmt: skip
    assert [r.id for r in await env.backend.list_tasks("ready")] == [ready[1].id, ready[0].id, ready[2].id]
    assert [r.id for r in await env.backend.list_tasks("ready", queue="a", limit=1)] == [ready[1].id]
    assert [r.id for r in await env.backend.list_tasks("delayed", queue="b")] == [delayed.id]
    record = await env.backend.get(delayed.id)
    assert (record.state, record.ready_at) == (DurableState.DELAYED, pytest.approx(env.clock.now() + 30))

    [lease] = await env.backend.dequeue(1, 30.0)
    processing = await env.backend.list_tasks("processing")
    assert [(r.id, r.lease_expires_at) for r in processing] == [(lease.task_id, pytest.approx(lease.expires_at))]
    assert (await env.backend.stats()).total_processing == 1
    with pytest.raises(TaskNotFoundError):
        await env.backend.get(uuid.uuid4())
    with pytest.raises(ValueError):
        await env.backend.list_tasks("sideways")


async def test_enqueue_many_and_ack_many_report_per_item(env: DurableEnv) -> None:
    first, second = make_task(idempotency_key="k1"), make_task()
    results = await env.backend.enqueue_many(
        [first, second, make_task(id=first.id), make_task(idempotency_key="k1"), make_task(id=None)]
    )
    assert results[:2] == [first.id, second.id]
    assert isinstance(results[2], DurableTaskExistsError)
    assert results[3] == first.id
    assert isinstance(results[4], InvalidTaskError)

    leases = await dequeue_all(env.backend)
    acks = await env.backend.ack_many([leases[0], attrs.evolve(leases[1], token="stale")])
    assert acks[0] is None
    assert isinstance(acks[1], DurableLeaseNotFoundError)
    assert (await env.backend.stats()).total_processing == 1


async def test_enqueue_many_handles_a_large_batch(env: DurableEnv) -> None:
    tasks = [make_task(priority=i % 3) for i in range(2500)]  # more than one script chunk
    assert await env.backend.enqueue_many(tasks) == [t.id for t in tasks]
    assert (await env.backend.stats()).total_ready == 2500
    leases = await env.backend.dequeue(3, 30.0)
    assert [lease.task_id for lease in leases] == [tasks[0].id, tasks[3].id, tasks[6].id]


async def test_unreachable_backend_raises_backend_unavailable(env: DurableEnv) -> None:
    down = await env.unreachable()
    if down is None:
        pytest.skip(f"{env.kind} has no remote store to lose")
    with pytest.raises(BackendUnavailableError):
        await down.enqueue(make_task())
    with pytest.raises(BackendUnavailableError):
        await down.dequeue(1, 30.0)
    await asyncio.wait_for(down.wait_for_work(0.1), PROMPTLY)  # never raises: falls back to polling
