"""OtelDurableMetrics (docs/observability.md, operator metrics): queue depth by queue and state
from the inspector, redeliveries, dead-lettered tasks and ack latency by queue, after a known workload."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, Histogram, InMemoryMetricReader, Metric, Sum

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.otel import OtelDurableMetrics
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.domain import DurableTask, TaskContext, TaskStatus
from tests.support.waits import next_result, within


class BoomError(Exception):
    pass


async def handle(ctx: TaskContext, message: dict[str, Any]) -> str:
    if message.get("fail"):
        raise BoomError("no")
    return "ok"


class RetryWatch:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def retry_scheduled(self, task: object, delay: float, attempt: int) -> None:
        self.event.set()


def manager(backend: InMemoryDurableBackend, clock: ManualClock) -> TaskManager:
    return TaskManager(
        clock=clock,
        tasks_per_second=0,
        durable_backend=backend,
        durable_handlers={"h": DurableHandlerSpec(make=dict, fn=handle)},
        durable_codec=JsonDurableCodec(),
    )


def points(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name: m for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}


def by_labels(metric: Metric, *keys: str) -> dict[tuple[Any, ...], Any]:
    assert isinstance(metric.data, Gauge | Sum)
    return {tuple((p.attributes or {})[k] for k in keys): p.value for p in metric.data.data_points}


async def test_depth_redeliveries_and_dead_letters_by_queue(
    meter_provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    worker = manager(backend, clock)
    durable = OtelDurableMetrics(meter_provider, backend)
    worker.add_listener(durable)
    retried = RetryWatch()
    worker.add_listener(retried)
    results = worker.subscribe_results()
    try:
        await worker.register_durable_task(DurableTask(handler="h", message={"fail": True}, queue="a", retries=1))
        await worker.register_durable_task(DurableTask(handler="h", message={}, queue="b"))
        await worker.start()
        await within(retried.event.wait())
        clock.advance(60)  # the nack's delay is over: the task comes back (attempt 2) and fails for good
        finished = {(await next_result(results)).status, (await next_result(results)).status}
        assert finished == {TaskStatus.COMPLETED, TaskStatus.FAILED}
    finally:
        await within(worker.stop_graceful())
    producer = manager(backend, clock)
    await producer.register_durable_task(DurableTask(handler="h", message={}, queue="a"))
    await producer.register_durable_task(DurableTask(handler="h", message={}, queue="a"))
    await producer.register_durable_task_after(DurableTask(handler="h", message={}, queue="b"), 3600)
    await durable.refresh()

    metrics = points(reader)
    depth = by_labels(metrics["durable_queue_depth"], "queue", "state")
    assert depth[("a", "ready")] == 2
    assert depth[("b", "delayed")] == 1
    assert depth[("a", "processing")] == depth[("b", "processing")] == 0
    assert depth[("*", "dead")] == 1
    assert by_labels(metrics["durable_redeliveries_total"], "queue") == {("a",): 1}
    assert by_labels(metrics["durable_dead_lettered_total"], "queue") == {("a",): 1}
    acks = metrics["durable_ack_latency_seconds"]
    assert isinstance(acks.data, Histogram)
    assert acks.unit == "s"
    assert [(dict(p.attributes or {}), p.count) for p in acks.data.data_points] == [({"queue": "b"}, 1)]
    durable.close()
    assert "durable_queue_depth" not in points(reader) or not by_labels(
        points(reader)["durable_queue_depth"], "queue", "state"
    )
    await producer.stop_now()
    await backend.close()


async def test_attempt_ended_reaches_listeners_before_the_finish() -> None:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    worker = manager(backend, clock)
    events: list[str] = []

    class Recorder:
        def attempt_ended(self, task: object, now: float) -> None:
            events.append("ended")

        def task_finished(self, task: object, status: object, result: object, error: object, now: float) -> None:
            events.append("finished")

    worker.add_listener(Recorder())
    results = worker.subscribe_results()
    try:
        await worker.register_durable_task(DurableTask(handler="h", message={}))
        await worker.start()
        await next_result(results)
    finally:
        await within(worker.stop_graceful())
        await backend.close()
    assert events == ["ended", "finished"]
