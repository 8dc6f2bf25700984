"""go-worker's `otel_metrics` example: the nine task metrics through OpenTelemetry, printed to stdout.

The MeterProvider is injected with ``set_meter_provider``, never set globally; the
observable counters report the manager's cumulative values at each collection.

Run: python docs/examples/otel_metrics.py
"""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pyworker.domain import Task, TaskContext
from pyworker.entrypoints.container import new_task_manager


async def ok(ctx: TaskContext) -> str:
    await asyncio.sleep(0.01)
    return "ok"


async def boom(ctx: TaskContext) -> None:
    raise RuntimeError("boom")


async def main() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tm = new_task_manager(max_workers=4, tasks_per_second=0, retry_delay=0.01)
    tm.set_meter_provider(provider, name="otel-metrics-example", version="1.0")
    async with tm:
        for _ in range(5):
            await tm.register_task(Task(execute=ok))
        await tm.register_task(Task(execute=boom, retries=1))
        await tm.wait()
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                (point,) = metric.data.data_points
                value = getattr(point, "value", None)
                if value is None:  # the latency histogram
                    value = f"count={point.count} sum={point.sum:.3f}s"  # type: ignore[attr-defined]
                print(f"{metric.name:24} {metric.unit or '-':2} {value}")
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
