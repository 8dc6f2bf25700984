"""go-worker's `otel_metrics_otlp` example: the task metrics pushed to an OTLP/HTTP collector.

Needs the extra: pip install 'pyworker[otlp]'. The standard variables apply:
OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318), OTEL_EXPORTER_OTLP_HEADERS,
OTEL_SERVICE_NAME. The container builds and shuts down the provider: leaving the
block flushes the last export.

Run: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python docs/examples/otel_metrics_otlp.py
"""

from __future__ import annotations

import asyncio
import os

from pyworker.domain import Task, TaskContext
from pyworker.entrypoints.container import open_task_manager


async def ok(ctx: TaskContext) -> str:
    return "ok"


async def main() -> None:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    async with open_task_manager(max_workers=4, telemetry={"metrics": "otlp", "traces": "otlp"}) as tm:
        await tm.start()
        for _ in range(10):
            await tm.register_task(Task(execute=ok))
        await tm.wait()
        snapshot = tm.get_metrics()
        print(f"completed={snapshot.completed} failed={snapshot.failed} latency_count={snapshot.task_latency_count}")
    print(f"metrics and spans exported to {endpoint}")


if __name__ == "__main__":
    asyncio.run(main())
