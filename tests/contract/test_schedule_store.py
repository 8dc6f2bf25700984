"""The ScheduleStore contract (exactly one task per tick across nodes): every adapter, see conftest.py."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pyworker.application.schedules import ScheduleStore, ScheduleStoreProvider
from pyworker.domain import DurableState, TaskNotFoundError
from pyworker.domain.schedule import FireOutcome, tick_task_id

from .conftest import DurableEnv
from .durable_support import dequeue_all, list_all, make_task

TICK = 1_700_000_060.0


def store_of(backend: object) -> ScheduleStore:
    assert isinstance(backend, ScheduleStoreProvider)
    store = backend.schedule_store()
    assert isinstance(store, ScheduleStore)
    return store


async def fire(store: ScheduleStore, tick: float | None, name: str = "nightly", **options: bool | int) -> FireOutcome:
    task_id = uuid.uuid4() if tick is None else tick_task_id(name, tick)
    record = await store.fire(
        name,
        tick,
        make_task(id=task_id, metadata={"worker.schedule.name": name}),
        skip_if_running=bool(options.get("skip_if_running", False)),
        history=int(options.get("history", 100)),
    )
    assert record.name == name
    assert record.tick == tick
    if record.outcome is FireOutcome.FIRED:
        assert record.task_id == task_id
    return record.outcome


async def test_a_fired_tick_is_a_ready_task_stored_as_enqueue_stores_it(env: DurableEnv) -> None:
    store = store_of(env.queue)
    assert await fire(store, TICK) is FireOutcome.FIRED

    record = await env.inspector.get(tick_task_id("nightly", TICK))
    plain = make_task(metadata={"worker.schedule.name": "nightly"})
    await env.queue.enqueue(plain)
    expected = await env.inspector.get(plain.id)
    assert record.state is DurableState.READY
    assert (record.handler, record.payload, record.queue, dict(record.metadata)) == (
        expected.handler, expected.payload, expected.queue, dict(expected.metadata),
    )  # fmt: skip
    assert await store.last_tick("nightly") == TICK


async def test_two_nodes_firing_the_same_tick_create_one_task(env: DurableEnv) -> None:
    first, second = store_of(env.queue), store_of(await env.peer())
    outcomes = await asyncio.gather(*(fire(s, TICK) for s in (first, second, first, second)))
    assert sorted(outcomes) == sorted([FireOutcome.FIRED] + [FireOutcome.DUPLICATE] * 3)
    assert len(await list_all(env.inspector, DurableState.READY)) == 1
    assert len(await first.history("nightly", 10)) == 1


async def test_a_late_node_does_not_recreate_a_tick_whose_task_was_acked(env: DurableEnv) -> None:
    store = store_of(env.queue)
    assert await fire(store, TICK) is FireOutcome.FIRED
    [lease] = await dequeue_all(env.queue)
    await env.queue.ack(lease)
    with pytest.raises(TaskNotFoundError):
        await env.inspector.get(tick_task_id("nightly", TICK))

    late = store_of(await env.peer())
    assert await fire(late, TICK) is FireOutcome.DUPLICATE
    assert await fire(late, TICK - 60) is FireOutcome.DUPLICATE  # older ticks too
    assert await list_all(env.inspector, DurableState.READY) == []
    assert await fire(late, TICK + 60) is FireOutcome.FIRED  # the next tick still fires


async def test_pause_one_or_all_is_shared_and_consumes_the_tick(env: DurableEnv) -> None:
    store, other = store_of(env.queue), store_of(await env.peer())
    await store.set_paused("nightly", True)
    assert await other.paused() == (False, frozenset({"nightly"}))
    assert await fire(other, TICK) is FireOutcome.PAUSED
    assert await fire(other, TICK, name="hourly") is FireOutcome.FIRED
    await store.set_paused("nightly", False)
    assert await fire(other, TICK) is FireOutcome.DUPLICATE  # a paused tick is not fired later
    await store.set_paused(None, True)
    assert (await other.paused())[0] is True
    assert await fire(other, TICK + 60) is FireOutcome.PAUSED
    assert await fire(other, TICK + 60, name="hourly") is FireOutcome.PAUSED
    await store.set_paused(None, False)
    assert await fire(other, TICK + 120) is FireOutcome.FIRED
    ready = {r.id for r in await list_all(env.inspector, DurableState.READY)}
    assert ready == {tick_task_id("hourly", TICK), tick_task_id("nightly", TICK + 120)}


async def test_skip_if_running_skips_while_the_previous_task_is_stored_and_not_dead(env: DurableEnv) -> None:
    store = store_of(env.queue)
    assert await fire(store, TICK, skip_if_running=True) is FireOutcome.FIRED
    assert await fire(store, TICK + 60, skip_if_running=True) is FireOutcome.SKIPPED_RUNNING
    [lease] = await dequeue_all(env.queue)  # running
    assert await fire(store, TICK + 120, skip_if_running=True) is FireOutcome.SKIPPED_RUNNING
    assert await fire(store, TICK + 150) is FireOutcome.FIRED  # without the option it fires
    leases = await dequeue_all(env.queue)
    await env.queue.fail(lease, "boom")  # dead: not running any more
    await env.queue.ack(leases[0])
    assert await fire(store, TICK + 180, skip_if_running=True) is FireOutcome.FIRED
    outcomes = [r.outcome for r in await store.history("nightly", 10)]
    assert outcomes == [
        FireOutcome.FIRED, FireOutcome.FIRED, FireOutcome.SKIPPED_RUNNING, FireOutcome.SKIPPED_RUNNING,
        FireOutcome.FIRED,
    ]  # fmt: skip


async def test_history_is_newest_first_and_bounded(env: DurableEnv) -> None:
    store = store_of(env.queue)
    for minute in range(7):
        assert await fire(store, TICK + 60 * minute, history=5) is FireOutcome.FIRED
    records = await store_of(await env.peer()).history("nightly", 100)
    assert [r.tick for r in records] == [TICK + 60 * m for m in (6, 5, 4, 3, 2)]
    assert all(r.at == env.clock.now() for r in records)
    assert [r.tick for r in await store.history("nightly", 2)] == [TICK + 360, TICK + 300]
    assert await store.history("other", 10) == []


async def test_run_now_ignores_pause_and_the_watermark(env: DurableEnv) -> None:
    store = store_of(env.queue)
    assert await fire(store, TICK) is FireOutcome.FIRED
    await store.set_paused(None, True)
    assert await fire(store, None) is FireOutcome.FIRED
    assert await fire(store, None) is FireOutcome.FIRED
    assert await store.last_tick("nightly") == TICK
    assert len(await list_all(env.inspector, DurableState.READY)) == 3
    assert [r.tick for r in await store.history("nightly", 10)] == [None, None, TICK]


async def test_last_tick_is_none_for_a_new_schedule(env: DurableEnv) -> None:
    assert await store_of(env.queue).last_tick("never") is None
