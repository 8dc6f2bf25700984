"""The DurableQueue contract (what a worker node needs): one suite, run against every adapter (see conftest.py)."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from pyworker.domain import (
    DEFAULT_LEASE,
    MAX_DURABLE_WEIGHT,
    BackendUnavailableError,
    DurableLease,
    DurableLeaseNotFoundError,
    DurableState,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)

from .conftest import DurableEnv
from .durable_support import PROMPTLY, dequeue_all, list_all, make_task


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
    assert await env.queue.enqueue(task) == task.id

    [lease] = await env.queue.dequeue(5, 30.0)

    got = lease.task
    assert (got.id, got.handler, got.payload, got.priority, got.queue, got.weight) == (
        task.id, "send_email", b"\x00\xffbinary", 3, "emails", 2,
    )  # fmt: skip
    assert (got.retries, got.retry_delay, dict(got.metadata)) == (4, 1.5, {"tenant": "acme", "trace": "t-1"})
    assert (got.idempotency_key, got.name) == ("order-42", "welcome")
    assert (lease.attempts, lease.max_retries) == (1, 4)
    assert lease.token
    assert lease.expires_at == pytest.approx(env.clock.now() + 30.0)
    record = await env.inspector.get(task.id)
    assert (record.state, record.attempts, record.queue) == (DurableState.PROCESSING, 1, "emails")
    assert (record.payload, dict(record.metadata), record.idempotency_key) == (
        b"\x00\xffbinary", {"tenant": "acme", "trace": "t-1"}, "order-42",
    )  # fmt: skip


async def test_large_binary_payload_survives_the_roundtrip(env: DurableEnv) -> None:
    payload = bytes(range(256)) * 300  # every byte value; a length that needs three bytes
    task = make_task(payload=payload, name="ünïcode", metadata={"k": "v" * 300})
    await env.queue.enqueue_many([task, make_task()])

    leases = await dequeue_all(env.queue)

    assert leases[0].task.payload == payload
    assert leases[0].task.name == "ünïcode"
    assert leases[0].task.metadata == {"k": "v" * 300}
    assert len(leases) == 2


async def test_blank_queue_and_weight_get_defaults(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task(queue="  ", weight=0))
    [lease] = await dequeue_all(env.queue)
    assert (lease.task.queue, lease.task.weight) == ("default", 1)


async def test_a_weight_past_the_stored_range_is_capped(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task(weight=2**40))
    [lease] = await dequeue_all(env.queue)
    assert lease.task.weight == MAX_DURABLE_WEIGHT


async def test_duplicate_id_is_refused(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    with pytest.raises(DurableTaskExistsError):
        await env.queue.enqueue(make_task(id=task.id, payload=b"other"))
    assert (await env.inspector.stats()).total_ready == 1
    assert (await env.inspector.get(task.id)).payload == b"payload"


async def test_idempotency_key_returns_the_existing_id(env: DurableEnv) -> None:
    first = make_task(idempotency_key="charge-7")
    second = make_task(idempotency_key="charge-7")
    assert await env.queue.enqueue(first) == first.id
    assert await env.queue.enqueue(second) == first.id
    with pytest.raises(TaskNotFoundError):
        await env.inspector.get(second.id)
    assert (await env.inspector.stats()).total_ready == 1
    # Still deduplicated right after the first task is done (the key outlives the task).
    [lease] = await dequeue_all(env.queue)
    await env.queue.ack(lease)
    assert await env.queue.enqueue(make_task(idempotency_key="charge-7")) == first.id
    assert (await env.inspector.stats()).total_ready == 0


async def test_exact_order_within_a_queue(env: DurableEnv) -> None:
    # (priority, weight) in enqueue order; expected: priority asc, weight desc, then FIFO.
    specs = [(5, 1), (1, 1), (1, 3), (-2, 1), (1, 3), (5, 9), (1, 1), (2**31 - 1, 1), (-(2**31), 2)]
    tasks = [make_task(priority=p, weight=w) for p, w in specs]
    for task in tasks:
        await env.queue.enqueue(task)
    expected = [t.id for _, t in sorted(enumerate(tasks), key=lambda it: (it[1].priority, -it[1].weight, it[0]))]

    listed = await list_all(env.inspector, DurableState.READY)
    leases = await dequeue_all(env.queue)

    assert [r.id for r in listed] == expected
    assert [lease.task_id for lease in leases] == expected


async def test_delayed_task_becomes_ready_exactly_when_due(env: DurableEnv) -> None:
    now = env.clock.now()
    later = make_task(run_at=now + 5.0)
    past = make_task(run_at=now - 60.0)
    await env.queue.enqueue(later)
    await env.queue.enqueue(past)

    [lease] = await dequeue_all(env.queue)
    assert lease.task_id == past.id
    stats = await env.inspector.stats()
    assert (stats.total_delayed, stats.total_ready) == (1, 0)
    assert [r.id for r in await list_all(env.inspector, DurableState.DELAYED)] == [later.id]

    env.clock.advance(4.0)
    assert await dequeue_all(env.queue) == []
    env.clock.advance(0.999)
    assert await dequeue_all(env.queue) == []
    env.clock.advance(0.001)
    [lease] = await dequeue_all(env.queue)
    assert (lease.task_id, lease.attempts) == (later.id, 1)


async def test_weighted_round_robin_across_queues(env: DurableEnv) -> None:
    await env.queue.configure_queues("default", {"a": 2, "b": 1})
    for queue in ("b", "a"):
        for _ in range(3):
            await env.queue.enqueue(make_task(queue=queue))

    leases = await env.queue.dequeue(6, 30.0)

    assert [lease.task.queue for lease in leases] == ["a", "a", "b", "a", "b", "b"]


async def test_a_node_limited_to_some_queues_leases_only_from_them(env: DurableEnv) -> None:
    for queue in ("a", "b", "c"):
        await env.queue.enqueue(make_task(queue=queue))
    await env.queue.configure_queues("default", {}, ["c", "a"])

    leased = sorted(lease.task.queue for lease in await dequeue_all(env.queue))

    assert leased == ["a", "c"]
    await env.queue.configure_queues("default", {})  # all queues again
    assert [lease.task.queue for lease in await dequeue_all(env.queue)] == ["b"]


async def test_stale_token_is_refused_and_changes_nothing(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue, lease=10.0)
    before = await env.inspector.get(task.id)
    stale = attrs.evolve(lease, token="not-the-token")
    unknown = attrs.evolve(lease, task=make_task())

    for bad in (stale, unknown):
        with pytest.raises(DurableLeaseNotFoundError):
            await env.queue.ack(bad)
        with pytest.raises(DurableLeaseNotFoundError):
            await env.queue.nack(bad, 0.0)
        with pytest.raises(DurableLeaseNotFoundError):
            await env.queue.fail(bad, "boom")
        with pytest.raises(DurableLeaseNotFoundError):
            await env.queue.extend(bad, 60.0)

    assert await env.inspector.get(task.id) == before
    stats = await env.inspector.stats()
    assert (stats.total_processing, stats.total_ready, stats.total_delayed, stats.dead) == (1, 0, 0, 0)
    await env.queue.ack(lease)
    with pytest.raises(TaskNotFoundError):
        await env.inspector.get(task.id)


async def test_expired_lease_is_redelivered_and_the_old_token_fenced(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [first] = await dequeue_all(env.queue, lease=10.0)

    env.clock.advance(9.999)
    assert await dequeue_all(env.queue) == []
    env.clock.advance(0.001)
    [second] = await dequeue_all(env.queue, lease=10.0)

    assert (second.task_id, second.attempts) == (task.id, 2)
    assert second.token != first.token
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.extend(first, 30.0)
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(first)
    await env.queue.ack(second)
    assert (await env.inspector.stats()).total_processing == 0


async def test_extend_keeps_the_lease(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task())
    [lease] = await dequeue_all(env.queue, lease=10.0)
    env.clock.advance(8.0)
    renewed = await env.queue.extend(lease, 10.0)
    assert renewed.expires_at == pytest.approx(env.clock.now() + 10.0)
    assert renewed.token == lease.token

    env.clock.advance(9.0)  # past the first expiry, before the renewed one
    assert await dequeue_all(env.queue) == []
    env.clock.advance(1.0)
    [again] = await dequeue_all(env.queue)
    assert again.attempts == 2


async def test_extend_many_renews_each_current_lease_in_one_call(env: DurableEnv) -> None:
    for _ in range(3):
        await env.queue.enqueue(make_task())
    first, second, third = await dequeue_all(env.queue, lease=10.0)
    await env.queue.ack(third)  # gone: its extension must be refused
    env.clock.advance(8.0)

    results = await env.queue.extend_many([first, attrs.evolve(second, token="stale"), second, third], 10.0)

    renewed_first, stale, renewed_second, gone = results
    assert isinstance(renewed_first, DurableLease)
    assert isinstance(renewed_second, DurableLease)
    assert (renewed_first.token, renewed_second.token) == (first.token, second.token)
    assert renewed_first.expires_at == pytest.approx(env.clock.now() + 10.0)
    assert renewed_second.expires_at == renewed_first.expires_at
    assert isinstance(stale, DurableLeaseNotFoundError)
    assert isinstance(gone, DurableLeaseNotFoundError)
    record = await env.inspector.get(first.task_id)
    assert record.lease_expires_at == pytest.approx(renewed_first.expires_at)
    env.clock.advance(9.0)  # past the first expiry, before the renewed one
    assert await dequeue_all(env.queue) == []
    env.clock.advance(1.0)
    assert sorted(lease.attempts for lease in await dequeue_all(env.queue)) == [2, 2]
    assert await env.queue.extend_many([], 10.0) == []


async def test_extend_without_a_duration_uses_the_default_lease(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task())
    [lease] = await env.queue.dequeue(1, 0.0)
    assert lease.expires_at == pytest.approx(env.clock.now() + DEFAULT_LEASE)
    [renewed] = await env.queue.extend_many([lease], -1.0)
    assert isinstance(renewed, DurableLease)
    assert renewed.expires_at == pytest.approx(env.clock.now() + DEFAULT_LEASE)


async def test_nack_delays_the_retry(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue)

    await env.queue.nack(lease, 5.0)
    assert (await env.inspector.get(task.id)).state is DurableState.DELAYED
    env.clock.advance(4.999)
    assert await dequeue_all(env.queue) == []
    env.clock.advance(0.001)
    [retry] = await dequeue_all(env.queue)
    assert (retry.task_id, retry.attempts) == (task.id, 2)

    await env.queue.nack(retry, 0.0)
    [third] = await dequeue_all(env.queue)
    assert third.attempts == 3
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(retry)


async def test_fail_moves_the_task_to_the_dlq_newest_first(env: DurableEnv) -> None:
    older, newer = make_task(queue="a"), make_task(queue="b")
    await env.queue.enqueue(older)
    await env.queue.enqueue(newer)
    leases = {lease.task_id: lease for lease in await dequeue_all(env.queue, lease=10.0)}
    failed_first_at = env.clock.now()
    await env.queue.fail(leases[older.id], "first error")
    env.clock.advance(1.0)
    await env.queue.fail(leases[newer.id], "second error")

    dead = await list_all(env.inspector, DurableState.DEAD)
    assert [r.id for r in dead] == [newer.id, older.id]
    assert [(r.state, r.last_error) for r in dead] == [
        (DurableState.DEAD, "second error"), (DurableState.DEAD, "first error"),
    ]  # fmt: skip
    assert dead[1].failed_at == pytest.approx(failed_first_at)
    assert dead[0].failed_at == pytest.approx(failed_first_at + 1.0)
    assert [r.id for r in await list_all(env.inspector, DurableState.DEAD, queue="a")] == [older.id]
    assert (await env.inspector.stats()).dead == 2
    env.clock.advance(60.0)  # dead tasks are not leased any more: nothing to reclaim
    assert await dequeue_all(env.queue) == []
    with pytest.raises(DurableTaskExistsError):
        await env.queue.enqueue(make_task(id=older.id))


async def test_fail_with_an_exception_keeps_its_text(env: DurableEnv) -> None:
    declined, empty = make_task(), make_task()
    await env.queue.enqueue(declined)
    await env.queue.enqueue(empty)
    leases = {lease.task_id: lease for lease in await dequeue_all(env.queue)}

    await env.queue.fail(leases[declined.id], ValueError("card declined"))
    await env.queue.fail(leases[empty.id], KeyError())  # no message: the type's name

    assert (await env.inspector.get(declined.id)).last_error == "card declined"
    assert (await env.inspector.get(empty.id)).last_error == "KeyError"


async def test_fail_with_an_exception_checks_the_token_first(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue)
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.fail(attrs.evolve(lease, token="stale"), RuntimeError("boom"))
    assert (await env.inspector.get(task.id)).state is DurableState.PROCESSING


async def test_release_returns_unstarted_leases_without_counting_them(env: DurableEnv) -> None:
    tasks = [make_task() for _ in range(3)]
    for task in tasks:
        await env.queue.enqueue(task)
    leases = await env.queue.dequeue(2, 30.0)

    await env.queue.release([*leases, attrs.evolve(leases[0], token="stale")])

    again = await dequeue_all(env.queue)
    assert [lease.task_id for lease in again] == [t.id for t in tasks]
    assert [lease.attempts for lease in again] == [1, 1, 1]
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(leases[0])


async def test_wait_for_work_is_woken_by_an_enqueue_from_another_client(env: DurableEnv) -> None:
    other = await env.peer()
    waiter = asyncio.ensure_future(env.queue.wait_for_work(60.0))
    for _ in range(3):
        await asyncio.sleep(0)  # let the waiter block (a yield, not a timed sleep)
    assert not waiter.done()

    await other.enqueue(make_task())

    await asyncio.wait_for(waiter, PROMPTLY)
    assert len(await dequeue_all(env.queue)) == 1


async def test_wait_and_dequeue_leases_what_an_enqueue_from_another_client_brings(env: DurableEnv) -> None:
    other = await env.peer()
    waiter = asyncio.ensure_future(env.queue.wait_and_dequeue(16, 30.0, 60.0))
    for _ in range(3):
        await asyncio.sleep(0)  # let the waiter block (a yield, not a timed sleep)
    assert not waiter.done()
    task = make_task()

    await other.enqueue(task)

    leases = await asyncio.wait_for(waiter, PROMPTLY)
    assert [lease.task_id for lease in leases] == [task.id]
    assert (await env.inspector.get(task.id)).state is DurableState.PROCESSING
    await env.queue.ack(leases[0])


async def test_wait_and_dequeue_cancelled_while_it_blocks_grants_nothing(env: DurableEnv) -> None:
    waiter = asyncio.ensure_future(env.queue.wait_and_dequeue(16, 30.0, 60.0))
    for _ in range(3):
        await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    task = make_task()

    await (await env.peer()).enqueue(task)

    assert (await env.inspector.get(task.id)).state is DurableState.READY  # nobody leased it
    assert [lease.task_id for lease in await dequeue_all(env.queue)] == [task.id]


async def test_wait_for_work_ends_when_a_delayed_task_falls_due(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task(run_at=env.clock.now() + 0.2))
    assert await dequeue_all(env.queue) == []
    await asyncio.wait_for(env.queue.wait_for_work(60.0), PROMPTLY)  # the enqueue's wake-up

    waiter = asyncio.ensure_future(env.queue.wait_for_work(60.0))
    await asyncio.sleep(0)
    env.clock.advance(0.2)  # Redis waits 0.2 s of real time; memory waits on the clock
    await asyncio.wait_for(waiter, PROMPTLY)
    assert len(await dequeue_all(env.queue)) == 1


async def test_wait_for_work_ends_when_a_lease_falls_due(env: DurableEnv) -> None:
    await env.queue.enqueue(make_task())
    [lease] = await env.queue.dequeue(1, 0.2)  # the dequeue learns when this lease expires
    assert await env.queue.dequeue(1, 30.0) == []
    await asyncio.wait_for(env.queue.wait_for_work(60.0), PROMPTLY)  # the enqueue's wake-up

    waiter = asyncio.ensure_future(env.queue.wait_for_work(60.0))
    await asyncio.sleep(0)
    env.clock.advance(0.2)  # Redis waits 0.2 s of real time; memory waits on the clock
    await asyncio.wait_for(waiter, PROMPTLY)
    [again] = await dequeue_all(env.queue)
    assert (again.task_id, again.attempts) == (lease.task_id, 2)


async def test_enqueue_many_and_ack_many_report_per_item(env: DurableEnv) -> None:
    first, second = make_task(idempotency_key="k1"), make_task()
    results = await env.queue.enqueue_many(
        [first, second, make_task(id=first.id), make_task(idempotency_key="k1"), make_task(id=None)]
    )
    assert results[:2] == [first.id, second.id]
    assert isinstance(results[2], DurableTaskExistsError)
    assert results[3] == first.id
    assert isinstance(results[4], InvalidTaskError)

    leases = await dequeue_all(env.queue)
    acks = await env.queue.ack_many([leases[0], attrs.evolve(leases[1], token="stale")])
    assert acks[0] is None
    assert isinstance(acks[1], DurableLeaseNotFoundError)
    assert (await env.inspector.stats()).total_processing == 1


async def test_enqueue_many_handles_a_large_batch(env: DurableEnv) -> None:
    tasks = [make_task(priority=i % 3) for i in range(2500)]  # more than one script chunk
    assert await env.queue.enqueue_many(tasks) == [t.id for t in tasks]
    assert (await env.inspector.stats()).total_ready == 2500
    leases = await env.queue.dequeue(3, 30.0)
    assert [lease.task_id for lease in leases] == [tasks[0].id, tasks[3].id, tasks[6].id]


async def test_unreachable_backend_raises_backend_unavailable(env: DurableEnv) -> None:
    down = await env.unreachable()
    if down is None:
        pytest.skip(f"{env.kind} has no remote store to lose")
    with pytest.raises(BackendUnavailableError):
        await down.enqueue(make_task())
    with pytest.raises(BackendUnavailableError):
        await down.dequeue(1, 30.0)
    with pytest.raises(BackendUnavailableError):
        await down.ping()
    somebody_elses = DurableLease(make_task(), "token", 1, 0, env.clock.now() + 30.0)
    with pytest.raises(BackendUnavailableError):
        await down.extend_many([somebody_elses], 10.0)
    await asyncio.wait_for(down.wait_for_work(0.1), PROMPTLY)  # never raises: falls back to polling


async def test_ping_answers_when_the_store_is_reachable(env: DurableEnv) -> None:
    await env.queue.ping()
    await env.queue.enqueue(make_task())
    await env.queue.ping()  # and changes nothing
    assert (await env.inspector.stats()).total_ready == 1

