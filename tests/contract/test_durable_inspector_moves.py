"""The DurableInspector moves (requeue, delete, replay_dead): one suite, every adapter (see conftest.py)."""

from __future__ import annotations

import uuid

import attrs
import pytest

from pyworker.domain import DurableLeaseNotFoundError, DurableState, DurableTaskRecord, TaskNotFoundError

from .conftest import DurableEnv
from .durable_support import ContractTask, dequeue_all, list_all, make_task


async def dead_task(env: DurableEnv, **fields: object) -> ContractTask:
    """A task enqueued, leased once and failed: in the DLQ with attempts 1."""
    task = make_task(**fields)
    await env.queue.enqueue(task)
    [lease] = [lease for lease in await dequeue_all(env.queue) if lease.task_id == task.id]
    await env.queue.fail(lease, "boom")
    return task


async def ids_in(env: DurableEnv, state: DurableState, queue: str | None = None) -> list[uuid.UUID]:
    return [record.id for record in await list_all(env.inspector, state, queue)]


async def test_requeue_from_the_dlq_keeps_attempts_metadata_key_and_payload(env: DurableEnv) -> None:
    payload = bytes(range(256))
    task = await dead_task(env, queue="a", payload=payload, metadata={"tenant": "acme"}, idempotency_key="k-1")

    assert await env.inspector.requeue([task.id]) == 1

    record = await env.inspector.get(task.id)
    assert (record.state, record.queue, record.attempts) == (DurableState.READY, "a", 1)
    assert (record.payload, dict(record.metadata), record.idempotency_key) == (payload, {"tenant": "acme"}, "k-1")
    assert (await env.inspector.stats()).dead == 0
    [lease] = await dequeue_all(env.queue)
    assert (lease.task_id, lease.attempts, lease.task.payload) == (task.id, 2, payload)


async def test_requeue_to_another_queue_with_a_delay(env: DurableEnv) -> None:
    task = make_task(queue="a")
    await env.queue.enqueue(task)

    assert await env.inspector.requeue([task.id], queue="b", delay=30) == 1

    assert await ids_in(env, DurableState.READY) == []
    assert await ids_in(env, DurableState.DELAYED, "b") == [task.id]
    assert (await env.inspector.get(task.id)).queue == "b"
    env.clock.advance(31)
    assert [lease.task_id for lease in await dequeue_all(env.queue)] == [task.id]


async def test_requeue_of_a_leased_task_voids_the_lease(env: DurableEnv) -> None:
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await dequeue_all(env.queue)

    assert await env.inspector.requeue([task.id]) == 1

    assert await ids_in(env, DurableState.PROCESSING) == []
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(lease)
    [again] = await dequeue_all(env.queue)
    assert (again.task_id, again.attempts) == (task.id, 2)


async def test_requeue_puts_a_ready_task_behind_its_peers_and_skips_unknown_ids(env: DurableEnv) -> None:
    first, second = make_task(), make_task()
    await env.queue.enqueue(first)
    await env.queue.enqueue(second)

    assert await env.inspector.requeue([first.id, uuid.uuid4()]) == 1

    assert await ids_in(env, DurableState.READY) == [second.id, first.id]


async def test_delete_takes_tasks_out_of_every_state(env: DurableEnv) -> None:
    ready, leased = make_task(), make_task(priority=-1)
    delayed = make_task(run_at=env.clock.now() + 60)
    for task in (ready, leased, delayed):
        await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30)
    assert lease.task_id == leased.id
    dead = await dead_task(env, queue="d")

    ids = [t.id for t in (ready, leased, delayed, dead)]
    assert await env.inspector.delete([*ids, uuid.uuid4()]) == 4

    stats = await env.inspector.stats()
    assert (stats.total_ready, stats.total_delayed, stats.total_processing, stats.dead) == (0, 0, 0, 0)
    assert (await env.inspector.get(ready.id)).state is DurableState.UNKNOWN
    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(lease)
    env.clock.advance(120)
    assert await dequeue_all(env.queue) == []


async def test_delete_with_hash_forgets_the_task_and_frees_its_key(env: DurableEnv) -> None:
    task = make_task(idempotency_key="once")
    await env.queue.enqueue(task)

    assert await env.inspector.delete([task.id], delete_hash=True) == 1

    with pytest.raises(TaskNotFoundError):
        await env.inspector.get(task.id)
    fresh = make_task(idempotency_key="once")
    assert await env.queue.enqueue(fresh) == fresh.id


async def test_replay_dead_moves_the_oldest_first_up_to_the_limit(env: DurableEnv) -> None:
    oldest = await dead_task(env, queue="a")
    middle = await dead_task(env, queue="b")
    newest = await dead_task(env, queue="a")

    assert await env.inspector.replay_dead(2) == 2

    assert await ids_in(env, DurableState.DEAD) == [newest.id]
    assert await ids_in(env, DurableState.READY, "a") == [oldest.id]
    assert await ids_in(env, DurableState.READY, "b") == [middle.id]
    assert (await env.inspector.get(middle.id)).attempts == 1
    assert await env.inspector.replay_dead(10) == 1
    assert await env.inspector.replay_dead(10) == 0
    assert (await env.inspector.stats()).dead == 0


async def test_replay_dead_drops_entries_whose_task_is_gone(env: DurableEnv) -> None:
    gone = await dead_task(env)
    kept = await dead_task(env)
    await env.inspector.delete([gone.id], delete_hash=True)

    assert await env.inspector.replay_dead(10) == 1

    assert await ids_in(env, DurableState.READY) == [kept.id]
    assert (await env.inspector.stats()).dead == 0


async def every_record(env: DurableEnv) -> list[DurableTaskRecord]:
    states = (DurableState.READY, DurableState.DELAYED, DurableState.PROCESSING, DurableState.DEAD)
    return [record for state in states for record in await list_all(env.inspector, state)]


async def test_restore_brings_back_every_record_exactly(env: DurableEnv) -> None:
    await dead_task(env, queue="d")
    await dead_task(env, queue="d")
    leased = make_task(queue="c")
    await env.queue.enqueue(leased)
    [lease] = await env.queue.dequeue(1, 30)
    assert lease.task_id == leased.id
    await env.queue.enqueue(make_task(queue="a", priority=3, weight=5, payload=bytes(range(256)), retries=4,
                                      retry_delay=1.5, metadata={"m": "1"}, idempotency_key="idem-a"))
    await env.queue.enqueue(make_task(queue="b", run_at=env.clock.now() + 60))
    before = await every_record(env)
    await env.inspector.delete([r.id for r in before], delete_hash=True)
    assert await every_record(env) == []

    assert await env.inspector.restore(before) == 5

    assert await every_record(env) == before
    duplicate = make_task(idempotency_key="idem-a")
    assert await env.queue.enqueue(duplicate) == before[0].id
    env.clock.advance(31)  # the restored lease runs out: the task comes back, its attempt counted
    again = [lease for lease in await dequeue_all(env.queue) if lease.task_id == leased.id]
    assert [lease.attempts for lease in again] == [2]


async def test_restore_replaces_a_task_stored_under_the_same_id(env: DurableEnv) -> None:
    task = make_task(queue="a")
    await env.queue.enqueue(task)
    [record] = await every_record(env)

    assert await env.inspector.restore([attrs.evolve(record, queue="b", state=DurableState.DEAD)]) == 1

    assert await ids_in(env, DurableState.READY) == []
    assert [r.queue for r in await every_record(env)] == ["b"]
    assert (await env.inspector.stats()).dead == 1
