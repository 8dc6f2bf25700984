"""go-worker's `tracing` example: a Tracer of your own (no OpenTelemetry), one span per attempt.

Run: python docs/examples/tracing.py
"""

from __future__ import annotations

import asyncio
import time

from pyworker.application import AttemptInfo, TaskManager
from pyworker.domain import Task, TaskContext


class PrintSpan:
    def __init__(self, attempt: AttemptInfo) -> None:
        self.attempt = attempt
        self.started = time.perf_counter()

    def end(self, error: BaseException | None) -> None:
        took = (time.perf_counter() - self.started) * 1000
        outcome = f"error={error!r}" if error is not None else "ok"
        print(f"span end   {self.attempt.name} attempt={self.attempt.attempt} {outcome} ({took:.1f} ms)")


class PrintTracer:
    """Implements the Tracer port: start() gets a frozen AttemptInfo and returns a span."""

    def start(self, attempt: AttemptInfo) -> PrintSpan:
        print(f"span start {attempt.name} attempt={attempt.attempt} queue={attempt.queue or 'default'}")
        return PrintSpan(attempt)


async def main() -> None:
    calls = 0

    async def flaky(ctx: TaskContext) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first attempt fails")
        return "done"

    async with TaskManager(max_workers=2, retry_delay=0.01, tracer=PrintTracer()) as tm:
        await tm.register_task(Task(execute=flaky, name="flaky", retries=1))
        await tm.wait()


if __name__ == "__main__":
    asyncio.run(main())
