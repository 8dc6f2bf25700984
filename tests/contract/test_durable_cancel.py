"""The DurableQueue cancel contract (docs/cluster.md#cancellation): one suite, run against every adapter."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pyworker.domain import (
    CancelOutcome,
    DurableCancelRequestedError,
    DurableLeaseNotFoundError,
    DurableState,
    TaskNotFoundError,
    TaskStatus,
)

from .conftest import DurableEnv
from .durable_support import PROMPTLY, dequeue_all, make_task


async def _cancelled_in_dlq(env: DurableEnv, task_id: uuid.UUID, reason: str, at: float | None = None) -> None:
    """``task_id`` is dead-lettered as cancelled with ``reason``, at ``at`` (default: now)."""
    record = await env.inspector.get(task_id)
    assert (record.state, record.last_error, record.cancelled) == (DurableState.DEAD, f"task cancelled: {reason}", True)
    assert record.cancelled_at == pytest.approx(env.clock.now() if at is None else at, abs=0.001)
    dead = await env.inspector.list_tasks(DurableState.DEAD)
    assert task_id in [r.id for r in dead.records]


async def test_a_ready_task_is_withdrawn_into_the_dlq_and_never_dequeued(env: DurableEnv) -> None:
    task, other = make_task(), make_task()
    await env.queue.enqueue_many([task, other])

    assert await env.queue.cancel(task.id, "duplicate") is CancelOutcome.WITHDRAWN

    await _cancelled_in_dlq(env, task.id, "duplicate")
    assert [lease.task_id for lease in await dequeue_all(env.queue)] == [other.id]
    stats = await env.inspector.stats()
    assert (stats.total_ready, stats.dead) == (0, 1)


async def test_a_delayed_task_is_withdrawn_and_not_promoted_when_due(env: DurableEnv) -> None:
    task = make_task(run_at=env.clock.now() + 60)
    await env.queue.enqueue(task)

    assert await env.queue.cancel(task.id, "no longer needed") is CancelOutcome.WITHDRAWN

    cancelled_at = env.clock.now()
    env.clock.advance(61)
    assert await dequeue_all(env.queue) == []
    await _cancelled_in_dlq(env, task.id, "no longer needed", cancelled_at)
    assert (await env.inspector.stats()).total_delayed == 0


async def test_a_leased_task_is_flagged_and_every_subscriber_hears_it(env: DurableEnv) -> None:
    holder = await env.peer()  # the node that leases it; the cancel comes from env.queue
    heard: asyncio.Queue[tuple[uuid.UUID, str]] = asyncio.Queue()
    subscription = await holder.subscribe_cancellations(lambda task_id, reason: heard.put_nowait((task_id, reason)))
    try:
        task = make_task()
        await env.queue.enqueue(task)
        [lease] = await dequeue_all(holder)

        assert await env.queue.cancel(task.id, "stop it") is CancelOutcome.FLAGGED

        assert await asyncio.wait_for(heard.get(), PROMPTLY) == (task.id, "stop it")
        record = await env.inspector.get(task.id)
        assert (record.state, record.cancel_requested, record.cancelled) == (DurableState.PROCESSING, "stop it", False)
        # Its holder finishes it: the lease still fails, as a cancellation.
        await holder.fail(lease, "task cancelled: stop it", status=TaskStatus.CANCELLED)
        await _cancelled_in_dlq(env, task.id, "stop it")
    finally:
        await subscription.close()


async def test_a_closed_subscription_hears_nothing_more(env: DurableEnv) -> None:
    heard: list[uuid.UUID] = []
    first = await env.queue.subscribe_cancellations(lambda task_id, _: heard.append(task_id))
    later: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    second = await env.queue.subscribe_cancellations(lambda task_id, _: later.put_nowait(task_id))
    await first.close()
    await first.close()  # idempotent
    task = make_task()
    await env.queue.enqueue(task)
    await dequeue_all(env.queue)

    await env.queue.cancel(task.id, "x")

    assert await asyncio.wait_for(later.get(), PROMPTLY) == task.id  # delivered: the closed one was skipped
    assert heard == []
    await second.close()


async def test_a_nack_of_a_flagged_lease_dead_letters_it_instead_of_a_retry(env: DurableEnv) -> None:
    task = make_task(retries=5)
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue)
    await env.queue.cancel(task.id, "operator")

    await env.queue.nack(lease, 0.0)

    await _cancelled_in_dlq(env, task.id, "operator")
    assert await dequeue_all(env.queue) == []


async def test_an_expired_flagged_lease_is_not_delivered_again(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue, lease=10.0)
    await env.queue.cancel(task.id, "holder is gone")

    env.clock.advance(10.0)

    assert await dequeue_all(env.queue) == []  # the reclaim finalises it
    await _cancelled_in_dlq(env, task.id, "holder is gone")
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(lease)


async def test_lease_renewal_reports_the_flag_and_still_renews(env: DurableEnv) -> None:
    flagged, other = make_task(), make_task()
    await env.queue.enqueue_many([flagged, other])
    leases = {lease.task_id: lease for lease in await dequeue_all(env.queue, lease=10.0)}
    await env.queue.cancel(flagged.id, "renewal sees it")

    renewed = await env.queue.extend_many([leases[flagged.id], leases[other.id]], 30.0)

    assert isinstance(renewed[0], DurableCancelRequestedError)
    assert (renewed[0].task_id, renewed[0].reason) == (flagged.id, "renewal sees it")
    assert not isinstance(renewed[1], BaseException)
    env.clock.advance(20.0)  # past the first lease: renewed all the same, so its holder can fail it
    await env.queue.fail(leases[flagged.id], "task cancelled: renewal sees it", status=TaskStatus.CANCELLED)
    await _cancelled_in_dlq(env, flagged.id, "renewal sees it")


async def test_unknown_ids_raise_and_done_tasks_are_left_alone(env: DurableEnv) -> None:
    with pytest.raises(TaskNotFoundError):
        await env.queue.cancel(uuid.uuid4(), "x")
    failed = make_task()
    await env.queue.enqueue(failed)
    [lease] = await dequeue_all(env.queue)
    await env.queue.fail(lease, "boom")

    assert await env.queue.cancel(failed.id, "late") is CancelOutcome.ALREADY_DONE

    record = await env.inspector.get(failed.id)
    assert (record.last_error, record.cancelled) == ("boom", False)


async def test_cancelling_twice_is_safe(env: DurableEnv) -> None:
    waiting, leased = make_task(), make_task()
    await env.queue.enqueue(leased)
    [lease] = await dequeue_all(env.queue)
    await env.queue.enqueue(waiting)

    assert await env.queue.cancel(waiting.id, "first") is CancelOutcome.WITHDRAWN
    assert await env.queue.cancel(waiting.id, "second") is CancelOutcome.ALREADY_DONE
    assert await env.queue.cancel(leased.id, "first") is CancelOutcome.FLAGGED
    assert await env.queue.cancel(leased.id, "second") is CancelOutcome.FLAGGED

    await _cancelled_in_dlq(env, waiting.id, "first")
    assert (await env.inspector.stats()).dead == 1
    await env.queue.nack(lease, 0.0)
    assert (await env.inspector.get(leased.id)).last_error == "task cancelled: second"


async def test_a_replayed_cancelled_task_runs_again(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    await env.queue.cancel(task.id, "by mistake")

    assert await env.inspector.replay_dead(10) == 1

    [lease] = await dequeue_all(env.queue)
    assert lease.task_id == task.id
    record = await env.inspector.get(task.id)
    assert (record.cancel_requested, record.cancelled_at) == ("", None)
    await env.queue.nack(lease, 0.0)  # no flag: a plain retry
    assert (await env.inspector.get(task.id)).state is DurableState.READY
