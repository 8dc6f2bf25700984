"""Metrics (docs/task-manager.md#metrics, docs/differences.md): the snapshot counters and gauges, latency, each
terminal failure counted once,
and the Meter port (observe / record_latency / close, set_meter_provider through a meter factory)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import Meter
from pyworker.domain import ConfigurationError, MetricsSnapshot, QueueFullError, Task, TaskContext, TaskStatus
from tests.support.waits import until, within
from tests.unit.application.support import Gate, MakeManager, failing, ok


class FakeMeter:
    def __init__(self) -> None:
        self.snapshot: Callable[[], MetricsSnapshot] | None = None
        self.latencies: list[float] = []
        self.closed = 0

    def observe(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self.snapshot = snapshot

    def record_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def close(self) -> None:
        self.closed += 1


def test_fake_meter_conforms_to_the_port() -> None:
    assert isinstance(FakeMeter(), Meter)


async def test_fresh_manager_reports_zeroes(make_manager: MakeManager) -> None:
    assert make_manager().get_metrics() == MetricsSnapshot()


async def test_scheduled_counts_successful_registrations_only(make_manager: MakeManager) -> None:
    tm = make_manager(max_tasks=2)
    tm.set_max_workers(0)
    first = Task(execute=ok)
    await tm.register_task(first)
    with pytest.raises(Exception, match="invalid"):
        await tm.register_task(Task())
    with pytest.raises(Exception, match="already exists"):
        await tm.register_task(Task(execute=ok, id=first.id))
    await tm.register_task(Task(execute=ok))
    with pytest.raises(QueueFullError):
        await tm.register_task(Task(execute=ok))
    assert tm.get_metrics().scheduled == 2


async def test_running_gauge_and_queue_depth(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=2)
    gates = [Gate(), Gate()]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
    for gate in gates:
        await within(gate.started.wait())
    await tm.register_task(Task(execute=ok))
    await tm.register_task_after(Task(execute=ok), 30)
    metrics = tm.get_metrics()
    assert (metrics.running, metrics.queue_depth) == (2, 2)
    for gate in gates:
        gate.release.set()
    clock.advance(30)
    await within(tm.wait())
    metrics = tm.get_metrics()
    assert (metrics.running, metrics.queue_depth, metrics.completed) == (0, 0, 4)


async def test_terminal_counters(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)

    async def too_slow(ctx: TaskContext) -> None:
        raise TimeoutError

    tasks = {
        "completed": Task(execute=ok),
        "failed": Task(execute=failing(1)),
        "deadline": Task(execute=too_slow),
        "cancelled": Task(execute=ok),
    }
    for task in tasks.values():
        await tm.register_task(task)
    await tm.cancel_task(tasks["cancelled"].id)
    tm.set_max_workers(1)
    await within(tm.wait())
    assert tasks["deadline"].status is TaskStatus.CONTEXT_DEADLINE_REACHED
    metrics = tm.get_metrics()
    assert (metrics.completed, metrics.failed, metrics.cancelled, metrics.retried) == (1, 2, 1, 0)


async def test_a_retried_failure_is_counted_once(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retry_delay=1)
    task = Task(execute=failing(5), retries=2)
    await tm.register_task(task)
    for _ in range(2):
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        clock.advance(5)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    metrics = tm.get_metrics()
    assert (metrics.failed, metrics.retried, metrics.completed) == (1, 2, 0)


async def test_cancelling_a_running_task_is_not_a_failure(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    await tm.cancel_task(task.id)
    await within(tm.wait())
    metrics = tm.get_metrics()
    assert (metrics.cancelled, metrics.failed) == (1, 0)


async def test_latency_runs_from_last_attempt_start_to_finish(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=2, timeout=3600)
    gates = [Gate(), Gate()]
    tasks = [Task(execute=gate) for gate in gates]
    for task in tasks:
        await tm.register_task(task)
    for gate in gates:
        await within(gate.started.wait())
    clock.advance(2)
    gates[0].release.set()
    await until(lambda: tasks[0].status.is_terminal)
    clock.advance(3)
    gates[1].release.set()
    await within(tm.wait())
    metrics = tm.get_metrics()
    assert metrics.task_latency_count == 2
    assert metrics.task_latency_total == pytest.approx(7.0)
    assert metrics.task_latency_max == pytest.approx(5.0)


async def test_latency_uses_the_start_of_the_last_attempt(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retry_delay=1, timeout=3600)
    gate = Gate(result="done")
    calls: list[int] = []

    async def fail_then_gate(ctx: TaskContext) -> object:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first")
        return await gate(ctx)

    task = Task(execute=fail_then_gate, retries=1)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(5)
    await within(gate.started.wait())
    clock.advance(1.5)
    gate.release.set()
    await within(tm.wait())
    assert tm.get_metrics().task_latency_max == pytest.approx(1.5)


async def test_tasks_that_never_started_record_no_latency(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    task = Task(execute=ok)
    await tm.register_task(task)
    await tm.cancel_task(task.id)
    assert tm.get_metrics().task_latency_count == 0


async def test_meter_observes_the_snapshot_and_records_latency(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    meter = FakeMeter()
    tm.set_meter(meter)
    assert meter.snapshot is not None
    assert meter.snapshot().completed == 1  # counts from before the meter was set are included
    assert meter.latencies == []  # the histogram starts now
    gate = Gate()
    await tm.register_task(Task(execute=gate))
    await within(gate.started.wait())
    clock.advance(2)
    gate.release.set()
    await within(tm.wait())
    assert meter.latencies == [2.0]
    assert meter.snapshot().completed == 2


async def test_meter_given_at_construction(make_manager: MakeManager) -> None:
    meter = FakeMeter()
    tm = make_manager(meter=meter)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert meter.snapshot is not None
    assert meter.snapshot().scheduled == 1
    assert meter.latencies == [0.0]


async def test_replacing_the_meter_closes_the_previous_one(make_manager: MakeManager) -> None:
    tm = make_manager()
    first, second = FakeMeter(), FakeMeter()
    tm.set_meter(first)
    tm.set_meter(second)
    assert (first.closed, second.closed) == (1, 0)
    tm.set_meter(None)
    assert second.closed == 1
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert first.latencies == second.latencies == []


async def test_set_meter_provider_uses_the_factory(make_manager: MakeManager) -> None:
    made: list[tuple[Any, str, str | None]] = []
    meters: list[FakeMeter] = []

    def factory(provider: Any, name: str, version: str | None) -> FakeMeter:
        made.append((provider, name, version))
        meters.append(FakeMeter())
        return meters[-1]

    tm = make_manager(meter_factory=factory)
    provider = object()
    tm.set_meter_provider(provider)
    tm.set_meter_provider(provider, name="custom", version="1.2")
    assert made == [(provider, "pyworker", None), (provider, "custom", "1.2")]
    assert meters[0].closed == 1  # replaced and unregistered
    tm.set_meter_provider(None)
    assert meters[1].closed == 1


async def test_set_meter_provider_without_factory_is_a_configuration_error(make_manager: MakeManager) -> None:
    tm = make_manager()
    with pytest.raises(ConfigurationError):
        tm.set_meter_provider(object())
    tm.set_meter_provider(None)  # disabling is always fine


async def test_results_dropped_in_the_snapshot(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.subscribe_results(1)
    for _ in range(3):
        await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert tm.get_metrics().results_dropped == 2


async def test_snapshot_is_a_value(make_manager: MakeManager) -> None:
    tm = make_manager()
    before = tm.get_metrics()
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    await asyncio.sleep(0)
    assert before.completed == 0
    assert tm.get_metrics().completed == 1
