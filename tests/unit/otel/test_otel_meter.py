"""OtelMeter (docs/observability.md, metrics): go-worker's nine instruments on an injected
MeterProvider (names, kinds, units) and their values after a known workload; meter name
and version; replacing and disabling a meter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, Histogram, InMemoryMetricReader, Metric, Sum

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.otel import INSTRUMENT_NAMES, OtelMeter, otel_meter_factory
from pyworker.application import Meter, TaskManager
from pyworker.domain import ConfigurationError, MetricsSnapshot, Task, TaskContext, TaskStatus
from tests.support.waits import until, within

COUNTERS = {
    "tasks_scheduled_total",
    "tasks_completed_total",
    "tasks_failed_total",
    "tasks_cancelled_total",
    "tasks_retried_total",
    "results_dropped_total",
}
GAUGES = {"tasks_running", "queue_depth"}


class BoomError(Exception):
    pass


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def manager(clock: ManualClock) -> AsyncIterator[TaskManager]:
    tm = TaskManager(max_workers=1, tasks_per_second=0, clock=clock, retry_delay=1, meter_factory=otel_meter_factory)
    yield tm
    await within(tm.stop_now())


def collect(reader: InMemoryMetricReader) -> dict[tuple[str, str, str | None], dict[str, Metric]]:
    """Metrics by (scope name, version) then instrument name."""
    data = reader.get_metrics_data()
    scopes: dict[tuple[str, str, str | None], dict[str, Metric]] = {}
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            key = ("scope", scope.scope.name, scope.scope.version)
            scopes.setdefault(key, {}).update({metric.name: metric for metric in scope.metrics})
    return scopes


def only_scope(reader: InMemoryMetricReader) -> dict[str, Metric]:
    (metrics,) = collect(reader).values()
    return metrics


def value(metric: Metric) -> Any:
    (point,) = metric.data.data_points
    return point.count if isinstance(metric.data, Histogram) else point.value  # type: ignore[union-attr]


def test_conforms_to_the_port(meter_provider: MeterProvider) -> None:
    assert isinstance(OtelMeter(meter_provider), Meter)


async def test_the_nine_instruments_after_a_known_workload(
    manager: TaskManager, clock: ManualClock, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    # Before the meter: one completed task (counted, since the counters are cumulative;
    # its latency is not in the histogram, which records from installation on).
    await manager.register_task(Task(execute=_ok))
    await within(manager.wait())
    manager.set_meter_provider(meter_provider)

    manager.subscribe_results(buffer=1)  # never read: the 2nd and later results drop
    failing = Task(execute=_boom, retries=1)
    await manager.register_task(failing)
    await until(lambda: failing.status is TaskStatus.WAITING_RETRY)
    clock.advance(2)  # the retry runs and fails for good
    await until(lambda: failing.status is TaskStatus.FAILED)
    cancelled = Task(execute=_ok)
    await manager.register_task_after(cancelled, 60)
    await manager.cancel_task(cancelled.id)
    await manager.register_task(Task(execute=_ok))
    await until(lambda: manager.get_metrics().completed == 2)

    gate_started = asyncio.Event()
    release = asyncio.Event()

    async def blocking(ctx: TaskContext) -> None:
        gate_started.set()
        await release.wait()

    await manager.register_task(Task(execute=blocking))
    await within(gate_started.wait())
    await manager.register_task_after(Task(execute=_ok), 60)
    await manager.register_task_after(Task(execute=_ok), 60)

    metrics = only_scope(reader)
    assert set(metrics) == set(INSTRUMENT_NAMES)
    for name in COUNTERS:
        data = metrics[name].data
        assert isinstance(data, Sum), name
        assert data.is_monotonic, name
        assert metrics[name].unit == "", name
    for name in GAUGES:
        assert isinstance(metrics[name].data, Gauge), name
    latency = metrics["task_latency_seconds"]
    assert isinstance(latency.data, Histogram)
    assert latency.unit == "s"
    observed = {name: value(metric) for name, metric in metrics.items()}
    assert observed == {
        "tasks_scheduled_total": 7,
        "tasks_completed_total": 2,
        "tasks_failed_total": 1,
        "tasks_cancelled_total": 1,
        "tasks_retried_total": 1,
        "results_dropped_total": 2,  # failed, cancelled, completed after the first (buffer 1)
        "tasks_running": 1,
        "queue_depth": 2,
        "task_latency_seconds": 2,  # the failed and the second completed task (cancelled never started)
    }
    snapshot = manager.get_metrics()
    assert (snapshot.scheduled, snapshot.results_dropped, snapshot.queue_depth) == (7, 2, 2)
    clock.advance(3)  # the running task takes 3 s on the manual clock
    release.set()
    await until(lambda: manager.get_metrics().completed == 3)
    latency = only_scope(reader)["task_latency_seconds"]
    assert isinstance(latency.data, Histogram)
    (point,) = latency.data.data_points
    assert point.count == 3
    assert point.sum == pytest.approx(3.0)


async def test_meter_name_and_version(
    manager: TaskManager, meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    manager.set_meter_provider(meter_provider, name="billing", version="1.2.3")
    assert list(collect(reader)) == [("scope", "billing", "1.2.3")]


async def test_an_empty_name_takes_the_default(meter_provider: MeterProvider, reader: InMemoryMetricReader) -> None:
    OtelMeter(meter_provider, name="").observe(MetricsSnapshot)
    assert list(collect(reader)) == [("scope", "pyworker", None)]


async def test_replacing_and_disabling(clock: ManualClock, reader: InMemoryMetricReader) -> None:
    first_provider = MeterProvider(metric_readers=[reader])
    second_reader = InMemoryMetricReader()
    second_provider = MeterProvider(metric_readers=[second_reader])
    tm = TaskManager(clock=clock, tasks_per_second=0, meter_factory=otel_meter_factory)
    try:
        await tm.register_task(Task(execute=_ok))
        await within(tm.wait())
        tm.set_meter_provider(first_provider)
        assert value(only_scope(reader)["tasks_completed_total"]) == 1
        tm.set_meter_provider(second_provider)  # the first one stops reporting
        assert "tasks_completed_total" not in only_scope_or_empty(reader)
        assert value(only_scope(second_reader)["tasks_completed_total"]) == 1
        tm.set_meter_provider(second_provider)  # the same provider again: still one set of values
        assert value(only_scope(second_reader)["tasks_completed_total"]) == 1
        tm.set_meter_provider(None)
        assert "tasks_completed_total" not in only_scope_or_empty(second_reader)
    finally:
        await within(tm.stop_now())
        first_provider.shutdown()
        second_provider.shutdown()


async def test_a_bare_manager_names_the_way_to_a_meter(clock: ManualClock, meter_provider: MeterProvider) -> None:
    tm = TaskManager(clock=clock)
    with pytest.raises(ConfigurationError, match="otel_meter_factory"):
        tm.set_meter_provider(meter_provider)
    tm.set_meter(OtelMeter(meter_provider))  # works on any manager
    await tm.stop_now()


def only_scope_or_empty(reader: InMemoryMetricReader) -> dict[str, Metric]:
    scopes = collect(reader)
    return next(iter(scopes.values())) if scopes else {}


async def _ok(ctx: TaskContext) -> str:
    return "ok"


async def _boom(ctx: TaskContext) -> None:
    raise BoomError("always")
