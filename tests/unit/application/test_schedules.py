"""Cron schedules on the TaskManager, driven by the ManualClock: ticks, misfires, pause, run-now, history."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import attrs
import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend, InMemoryScheduleStore
from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.application.schedules import ScheduleService, Tick
from pyworker.domain import BackendUnavailableError, DurableModeError, DurableState, DurableTask, Task
from pyworker.domain.schedule import (
    FireOutcome,
    FireRecord,
    InvalidMisfirePolicyError,
    InvalidScheduleFactoryError,
    InvalidScheduleNameError,
    InvalidScheduleSpecError,
    InvalidTimezoneError,
    MisfirePolicy,
    ScheduleExistsError,
    ScheduleNotFoundError,
    tick_task_id,
)
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import until, within
from tests.unit.application.support import MakeManager

START = 1_700_000_000.0  # ManualClock's default start, a whole second


class Recorder:
    """A factory of in-process tasks that records the ticks it was called for and the runs."""

    def __init__(self) -> None:
        self.ticks: list[float | None] = []
        self.runs: list[float | None] = []
        self.gate: asyncio.Event | None = None

    def __call__(self, tick: Tick) -> Task:
        self.ticks.append(tick.at)

        async def run(_ctx: Any) -> None:
            if self.gate is not None:
                await self.gate.wait()
            self.runs.append(tick.at)

        return Task(execute=run, name=tick.name)


def next_at(manager: TaskManager, name: str) -> float | None:
    return next(s.next_at for s in manager.list_schedules() if s.name == name)


async def started(manager: TaskManager, name: str = "job") -> None:
    await manager.start()
    await until(lambda: next_at(manager, name) is not None)


async def advance(clock: ManualClock, manager: TaskManager, seconds: float, name: str = "job") -> None:
    """Move time and wait until the loop has handled the wake-up (its next tick is ahead)."""
    clock.advance(seconds)
    await until(lambda: (next_at(manager, name) or 0) > clock.now())


async def test_each_tick_registers_one_task_that_runs(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(), Recorder()
    manager.register_cron_task("job", "@every 1s", factory)
    await started(manager)
    assert next_at(manager, "job") == START + 1
    for _ in range(3):
        await advance(clock, manager, 1.0)
    await within(manager.wait())
    assert factory.ticks == [START + 1, START + 2, START + 3]
    assert factory.runs == factory.ticks
    history = await manager.schedule_history("job")
    assert [(r.outcome, r.tick) for r in history] == [(FireOutcome.FIRED, START + t) for t in (3, 2, 1)]


async def test_a_six_field_spec_fires_on_its_seconds(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(), Recorder()
    manager.register_cron_task("job", "*/20 * * * * *", factory)  # seconds 0, 20, 40
    await started(manager)
    assert next_at(manager, "job") == START + 20
    await advance(clock, manager, 20.0)
    assert factory.ticks == [START + 20]
    assert next_at(manager, "job") == START + 40


@pytest.mark.parametrize(
    ("misfire", "expected"),
    [
        ("once", [START + 10]),
        (MisfirePolicy("all", limit=3), [START + 8, START + 9, START + 10]),
        (MisfirePolicy("skip", grace=0.2), []),
        (MisfirePolicy("skip", grace=1.0), [START + 10]),  # the latest tick is 0.5 s late
    ],
)
async def test_missed_ticks_follow_the_misfire_policy(
    make_manager: MakeManager, clock: ManualClock, misfire: Any, expected: list[float]
) -> None:
    manager, factory = make_manager(), Recorder()
    manager.register_cron_task("job", "@every 1s", factory, misfire=misfire)
    await started(manager)
    await advance(clock, manager, 10.5)  # a stalled loop: ten ticks are due at once
    assert factory.ticks == expected
    assert next_at(manager, "job") == START + 11


async def test_pause_and_resume_one_or_all(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, job, other = make_manager(), Recorder(), Recorder()
    manager.register_cron_task("job", "@every 1s", job)
    manager.register_cron_task("other", "@every 1s", other)
    await started(manager)
    await manager.pause_schedule("job")
    assert [s.paused for s in manager.list_schedules()] == [True, False]
    await advance(clock, manager, 1.0)
    assert (job.ticks, other.ticks) == ([], [START + 1])
    await manager.pause_schedule()
    await advance(clock, manager, 1.0)
    await manager.resume_schedule()
    await advance(clock, manager, 1.0)
    assert (job.ticks, other.ticks) == ([], [START + 1, START + 3])
    await manager.resume_schedule("job")
    await advance(clock, manager, 1.0)
    assert job.ticks == [START + 4]  # ticks passed while paused are not caught up


async def test_run_now_fires_at_once_even_when_paused(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(), Recorder()
    manager.register_cron_task("job", "@hourly", factory)
    await started(manager)
    await manager.pause_schedule("job")
    task_id = await manager.run_schedule_now("job")
    await within(manager.wait())
    assert factory.runs == [None]
    [record] = await manager.schedule_history("job")
    assert (record.outcome, record.tick, record.task_id) == (FireOutcome.FIRED, None, task_id)
    assert next_at(manager, "job") == 1_700_002_800.0  # the next whole hour, unchanged
    with pytest.raises(ScheduleNotFoundError):
        await manager.run_schedule_now("missing")


async def test_skip_if_running_skips_ticks_while_the_last_run_is_unfinished(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    manager, factory = make_manager(max_workers=2), Recorder()
    factory.gate = asyncio.Event()
    manager.register_cron_task("job", "@every 1s", factory, skip_if_running=True)
    await started(manager)
    await advance(clock, manager, 1.0)
    await until(lambda: manager.get_active_tasks() == 1)
    await advance(clock, manager, 1.0)
    factory.gate.set()
    await until(lambda: factory.runs == [START + 1])
    await within(manager.wait())
    await advance(clock, manager, 1.0)
    await within(manager.wait())
    assert factory.ticks == [START + 1, START + 3]
    history = await manager.schedule_history("job")
    assert [(r.outcome, r.tick) for r in history] == [
        (FireOutcome.FIRED, START + 3), (FireOutcome.SKIPPED_RUNNING, START + 2), (FireOutcome.FIRED, START + 1),
    ]  # fmt: skip


async def test_without_skip_if_running_runs_overlap(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(max_workers=2), Recorder()
    factory.gate = asyncio.Event()
    manager.register_cron_task("job", "@every 1s", factory)
    await started(manager)
    await advance(clock, manager, 1.0)
    await advance(clock, manager, 1.0)
    await until(lambda: manager.get_active_tasks() == 2)
    factory.gate.set()
    await within(manager.wait())
    assert sorted(r for r in factory.runs if r is not None) == [START + 1, START + 2]


async def test_history_is_bounded_newest_first(make_manager: MakeManager, clock: ManualClock) -> None:
    manager = make_manager()
    manager.register_cron_task("job", "@every 1s", Recorder(), history=3)
    await started(manager)
    for _ in range(5):
        await advance(clock, manager, 1.0)
    assert [r.tick for r in await manager.schedule_history("job")] == [START + 5, START + 4, START + 3]
    assert [r.tick for r in await manager.schedule_history("job", limit=1)] == [START + 5]


async def test_unregister_stops_the_ticks(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, job, other = make_manager(), Recorder(), Recorder()
    manager.register_cron_task("job", "@every 1s", job)
    manager.register_cron_task("other", "@every 1s", other)
    await started(manager)
    assert manager.unregister_cron_task(" job ") is True
    assert manager.unregister_cron_task("job") is False
    await advance(clock, manager, 1.0, name="other")
    assert (job.ticks, other.ticks) == ([], [START + 1])
    manager.register_cron_task("job", "@every 1s", job)  # the name is free again
    await until(lambda: next_at(manager, "job") is not None)
    await advance(clock, manager, 1.0)
    assert job.ticks == [START + 2]


async def test_a_failing_factory_skips_its_tick_only(
    make_manager: MakeManager, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    manager, good = make_manager(), Recorder()
    calls: list[float | None] = []

    def flaky(tick: Tick) -> Task:
        calls.append(tick.at)
        if len(calls) == 1:
            raise RuntimeError("database down")
        return good(tick)

    manager.register_cron_task("job", "@every 1s", flaky)
    await started(manager)
    with caplog.at_level(logging.ERROR, logger="pyworker.schedules"):
        await advance(clock, manager, 1.0)
        await advance(clock, manager, 1.0)
    assert "database down" in caplog.text
    assert good.ticks == [START + 2]
    assert [r.tick for r in await manager.schedule_history("job")] == [START + 2]


async def test_no_tick_fires_after_a_graceful_stop(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(), Recorder()
    manager.register_cron_task("job", "@every 1s", factory)
    await started(manager)
    await within(manager.stop_graceful())
    clock.advance(5.0)
    await asyncio.sleep(0)
    assert factory.ticks == []


async def test_bad_registrations_raise_typed_errors(make_manager: MakeManager) -> None:
    manager = make_manager()
    manager.register_cron_task("job", "@daily", Recorder())
    cases: list[tuple[type[Exception], dict[str, Any]]] = [
        (InvalidScheduleSpecError, {"spec": "* * *"}),
        (InvalidScheduleSpecError, {"spec": "99 * * * *"}),
        (InvalidScheduleSpecError, {"spec": "@fortnightly"}),
        (InvalidScheduleSpecError, {"spec": "@every 100ms"}),
        (InvalidTimezoneError, {"timezone": "Mars/Olympus"}),
        (InvalidScheduleNameError, {"name": "  "}),
        (InvalidScheduleNameError, {"name": "two words"}),
        (InvalidMisfirePolicyError, {"misfire": "sometimes"}),
        (InvalidScheduleFactoryError, {"factory": "not callable"}),
        (ScheduleExistsError, {"name": "job"}),
    ]
    for error, override in cases:
        arguments: dict[str, Any] = {"name": "new", "spec": "@hourly", "factory": Recorder(), **override}
        with pytest.raises(error):
            manager.register_cron_task(**arguments)
    assert [s.name for s in manager.list_schedules()] == ["job"]
    with pytest.raises(DurableModeError, match="durable backend not configured"):
        manager.register_durable_cron_task("d", "@hourly", Recorder())


# -- durable schedules ---------------------------------------------------------------------------


def durable_manager(backend: InMemoryDurableBackend, clock: ManualClock) -> TaskManager:
    registry = TypedDurableRegistry()

    @registry.handler("report", SendEmailPayload)
    async def report(_ctx: Any, _message: SendEmailPayload) -> None:
        return None

    return TaskManager(durable_backend=backend, durable_handlers=registry, clock=clock, tasks_per_second=0)


def report(tick: Tick) -> DurableTask:
    return DurableTask(handler="report", message=SendEmailPayload(to="ops@example.com"), metadata={"tenant": "acme"})


async def ready_ids(backend: InMemoryDurableBackend) -> list[Any]:
    return sorted(str(r.id) for r in (await backend.list_tasks(DurableState.READY, limit=1000)).records)


async def test_durable_nodes_create_one_task_per_tick(clock: ManualClock) -> None:
    backend = InMemoryDurableBackend(clock=clock)
    nodes = [durable_manager(backend, clock) for _ in range(3)]
    for node in nodes:
        node.register_durable_cron_task("job", "@every 1s", report)
        node.schedules.start()  # the scheduler alone: nothing leases the tasks
        await until(lambda node=node: next_at(node, "job") is not None)  # type: ignore[misc]
    try:
        for _ in range(4):
            clock.advance(1.0)
            for node in nodes:
                await until(lambda node=node: (next_at(node, "job") or 0) > clock.now())  # type: ignore[misc]
        assert await ready_ids(backend) == sorted(str(tick_task_id("job", START + t)) for t in range(1, 5))
        record = await backend.get(tick_task_id("job", START + 1))
        assert dict(record.metadata) == {
            "tenant": "acme", "worker.schedule.name": "job", "worker.schedule.spec": "@every 1s",
            "worker.schedule.tick": str(int((START + 1) * 1000)),
        }  # fmt: skip
        history = await nodes[2].schedule_history("job")
        assert [r.tick for r in history] == [START + t for t in (4, 3, 2, 1)]
        await nodes[0].pause_schedule("job")  # a durable pause holds for every node
        clock.advance(1.0)
        for node in nodes:
            await until(lambda node=node: (next_at(node, "job") or 0) > clock.now())  # type: ignore[misc]
        assert len(await ready_ids(backend)) == 4
    finally:
        for node in nodes:
            await node.stop_now()


@pytest.mark.parametrize(("misfire", "count"), [("once", 1), (MisfirePolicy("all", limit=5), 5), ("skip", 0)])
async def test_ticks_missed_while_no_node_ran_follow_the_policy(clock: ManualClock, misfire: Any, count: int) -> None:
    backend = InMemoryDurableBackend(clock=clock)
    first = durable_manager(backend, clock)
    first.register_durable_cron_task("job", "@every 60s", report, misfire=misfire)
    first.schedules.start()
    await until(lambda: next_at(first, "job") is not None)
    clock.advance(40.0)  # @every ticks at multiples of the interval since the epoch: START + 40, + 100, ...
    await until(lambda: (next_at(first, "job") or 0) > clock.now())
    await first.stop_now()
    assert len(await ready_ids(backend)) == 1

    clock.advance(3650.0)  # an hour with no node up
    later = durable_manager(backend, clock)
    later.register_durable_cron_task("job", "@every 60s", report, misfire=misfire)
    later.schedules.start()
    try:
        await until(lambda: (next_at(later, "job") or 0) > clock.now())
        assert len(await ready_ids(backend)) == 1 + count
        newest = (await later.schedule_history("job"))[0]
        assert newest.tick == ((START + 3690) // 60 * 60 if count else START + 40)
    finally:
        await later.stop_now()


async def test_in_process_and_durable_modes_refuse_each_others_schedules(clock: ManualClock) -> None:
    manager = durable_manager(InMemoryDurableBackend(clock=clock), clock)
    with pytest.raises(DurableModeError, match="use register_durable_cron_task"):
        manager.register_cron_task("job", "@hourly", Recorder())


async def test_a_durable_task_the_handlers_refuse_is_not_fired(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = InMemoryDurableBackend(clock=clock)
    manager = durable_manager(backend, clock)
    manager.register_durable_cron_task("job", "@every 1s", lambda _t: DurableTask(handler="unknown", payload=b""))
    manager.schedules.start()
    try:
        await until(lambda: next_at(manager, "job") is not None)
        with caplog.at_level(logging.ERROR, logger="pyworker.schedules"):
            clock.advance(1.0)
            await until(lambda: (next_at(manager, "job") or 0) > clock.now())
        assert "unknown" in caplog.text
        assert await ready_ids(backend) == []
    finally:
        await manager.stop_now()


async def test_a_manager_without_schedules_runs_no_schedule_loop(make_manager: MakeManager, clock: ManualClock) -> None:
    manager, factory = make_manager(), Recorder()
    await manager.start()

    def loops() -> int:
        return sum(1 for task in asyncio.all_tasks() if task.get_name() == "pyworker-schedules")

    assert loops() == 0
    manager.register_cron_task("job", "@every 1s", factory)  # after start: the loop starts now
    assert loops() == 1
    await until(lambda: next_at(manager, "job") is not None)
    await advance(clock, manager, 1.0)
    assert factory.ticks == [START + 1]
    await within(manager.stop_now())
    assert loops() == 0


def encoded(task: DurableTask) -> DurableTask:
    """What the manager's registrar does to a task, for a service built without one."""
    return attrs.evolve(task, payload=task.message.SerializeToString())


class FlakyStore(InMemoryScheduleStore):
    """The in-memory store, unreachable for the next ``down`` fires (as Redis would be)."""

    def __init__(self, backend: InMemoryDurableBackend, clock: ManualClock, down: int) -> None:
        super().__init__(backend, clock)
        self.down = down

    async def fire(self, name: str, tick: float | None, task: DurableTask, *, skip_if_running: bool,
                   history: int) -> FireRecord:  # fmt: skip
        if self.down > 0:
            self.down -= 1
            raise BackendUnavailableError(reason="connection refused")
        return await super().fire(name, tick, task, skip_if_running=skip_if_running, history=history)


async def test_a_tick_the_store_refused_is_fired_when_it_answers_again(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = InMemoryDurableBackend(clock=clock)
    store = FlakyStore(backend, clock, down=2)
    service = ScheduleService(clock, register_local=None, prepare_durable=encoded, store=store)
    service.register_durable_cron_task("job", "@every 60s", report)
    service.start()
    try:
        await until(lambda: service.schedules()[0].next_at is not None)
        with caplog.at_level(logging.WARNING, logger="pyworker.schedules"):
            clock.advance(40.0)  # the tick at START + 40: refused
            await until(lambda: service.schedules()[0].next_at == START + 41)
            clock.advance(1.0)  # retried after RETRY_AFTER: refused again
            await until(lambda: service.schedules()[0].next_at == START + 42)
            clock.advance(1.0)  # the store answers: the missed tick fires (misfire "once")
            await until(lambda: service.schedules()[0].next_at == START + 100)
        assert caplog.text.count("connection refused") == 2
        assert await ready_ids(backend) == [str(tick_task_id("job", START + 40))]
    finally:
        await service.stop()


async def test_a_durable_backend_without_a_schedule_store_is_refused(clock: ManualClock) -> None:
    service = ScheduleService(clock, register_local=None, prepare_durable=lambda task: task, store=None)
    with pytest.raises(DurableModeError, match="keeps no schedules"):
        service.register_durable_cron_task("job", "@hourly", report)


class BrokenOnceStore(FlakyStore):
    """A store with a bug on its first fire (not a WorkerError): the loop must survive it."""

    async def fire(self, name: str, tick: float | None, task: DurableTask, *, skip_if_running: bool,
                   history: int) -> FireRecord:  # fmt: skip
        if self.down > 0:
            self.down -= 1
            raise RuntimeError("a bug in the store")
        return await super().fire(name, tick, task, skip_if_running=skip_if_running, history=history)


async def test_an_unexpected_error_is_logged_and_the_loop_goes_on(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = InMemoryDurableBackend(clock=clock)
    store = BrokenOnceStore(backend, clock, down=1)
    service = ScheduleService(clock, register_local=None, prepare_durable=encoded, store=store)
    service.register_durable_cron_task("job", "@every 60s", report)
    service.start()
    try:
        await until(lambda: service.schedules()[0].next_at is not None)
        with caplog.at_level(logging.ERROR, logger="pyworker.schedules"):
            clock.advance(40.0)
            await until(lambda: service.schedules()[0].next_at == START + 41)
        assert "a bug in the store" in caplog.text
        clock.advance(1.0)
        await until(lambda: service.schedules()[0].next_at == START + 100)
        assert await ready_ids(backend) == [str(tick_task_id("job", START + 40))]
    finally:
        await service.stop()
