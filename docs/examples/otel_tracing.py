"""go-worker's `otel_tracing` example: OpenTelemetry spans, printed to stdout.

One ``worker.task`` span per attempt, a child of the span that registered the task
(so a retried task is one trace); the failed attempt has the error status and an
exception event. The TracerProvider is injected, never set globally.

Run: python docs/examples/otel_tracing.py
"""

from __future__ import annotations

import asyncio

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from pyworker.adapters.otel import OtelTracer
from pyworker.domain import Task, TaskContext
from pyworker.entrypoints.container import new_task_manager


async def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    calls = 0

    async def flaky(ctx: TaskContext) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first attempt fails")
        return "done"

    tm = new_task_manager(max_workers=2, retry_delay=0.01)
    tm.set_tracer(OtelTracer(provider))
    async with tm:
        with trace.get_tracer("example", tracer_provider=provider).start_as_current_span("register"):
            await tm.register_task(Task(execute=flaky, name="flaky", retries=1, correlation_id="req-42"))
        await tm.wait()
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
