"""In-memory benchmark: TaskManager throughput and memory per queued task, next to bare asyncio/thread baselines.

Prints every figure with its target, ratio and met/MISSED, then a summary table (one
row per target; the async rows are issue 10's). Never asserts speed, exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from pyworker.adapters.otel import OtelMeter, OtelTracer
from pyworker.application import TaskManager
from pyworker.domain import Task, TaskContext

ASYNC_TARGET = 0.5  # issue 10: register + drain and drain only >= 0.5x the asyncio.PriorityQueue loop
SYNC_TARGET = 1 / 2  # manager >= 1/2 of the ThreadPoolExecutor baseline
MEMORY_TARGET = 2048  # bytes per queued task
TELEMETRY_TARGET = 0.85  # telemetry on >= 85% of off (under 15% overhead)



async def noop(ctx: TaskContext | None) -> None:
    return None


def noop_sync(ctx: TaskContext | None) -> None:
    return None


class DiscardSpans(SpanExporter):
    """The end of a real span pipeline (batching, export calls) without the network."""

    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def new_manager(tasks: int, workers: int, telemetry: bool = False) -> TaskManager:
    # No rate limit, room for every task; no tracer or meter (what TaskManager() gives on its own).
    manager = TaskManager(max_workers=workers, max_tasks=tasks, tasks_per_second=0)
    if telemetry:  # --telemetry: OtelTracer (batched spans, discarded) and OtelMeter on SDK providers
        spans = TracerProvider()
        spans.add_span_processor(BatchSpanProcessor(DiscardSpans(), max_queue_size=max(tasks, 2048)))
        manager.set_tracer(OtelTracer(spans))
        manager.set_meter(OtelMeter(MeterProvider(metric_readers=[InMemoryMetricReader()])))
        _PROVIDERS.append(spans)
    return manager


_PROVIDERS: list[TracerProvider] = []  # shut down (their export threads stopped) at the end


# -- the manager ------------------------------------------------------------------


async def manager_end_to_end(fn: Any, count: int, workers: int, telemetry: bool = False) -> float:
    """Register ``count`` prebuilt tasks on running workers, then wait for all; tasks/s."""
    tasks = [Task(execute=fn) for _ in range(count)]
    manager = new_manager(count, workers, telemetry)
    await manager.start()
    gc.collect()
    started = time.perf_counter()
    await manager.register_tasks(tasks)
    await manager.wait()
    elapsed = time.perf_counter() - started
    await manager.stop_now()
    _check(manager, count)
    return count / elapsed


async def manager_drain(fn: Any, count: int, workers: int, telemetry: bool = False) -> float:
    """Register ``count`` tasks with no worker running, then start the workers and time the drain."""
    tasks = [Task(execute=fn) for _ in range(count)]
    manager = new_manager(count, workers, telemetry)
    manager.set_max_workers(0)
    await manager.register_tasks(tasks)
    gc.collect()
    started = time.perf_counter()
    manager.set_max_workers(workers)
    await manager.wait()
    elapsed = time.perf_counter() - started
    await manager.stop_now()
    _check(manager, count)
    return count / elapsed


def _check(manager: TaskManager, count: int) -> None:
    completed = manager.get_metrics().completed
    if completed != count:  # a correctness problem, not a speed one: say so loudly
        print(f"WARNING: {completed} of {count} tasks completed", file=sys.stderr)


# -- baselines ----------------------------------------------------------------------


async def _consume(queue: asyncio.PriorityQueue[tuple[int, int, Any]]) -> None:
    while True:
        _, _, fn = await queue.get()
        await fn(None)
        queue.task_done()


async def queue_end_to_end(count: int, workers: int) -> float:
    """asyncio.PriorityQueue: consumers waiting, then put every prebuilt item and join; items/s."""
    items = [(0, seq, noop) for seq in range(count)]
    queue: asyncio.PriorityQueue[tuple[int, int, Any]] = asyncio.PriorityQueue()
    consumers = [asyncio.create_task(_consume(queue)) for _ in range(workers)]
    await asyncio.sleep(0)  # let them park in get()
    gc.collect()
    started = time.perf_counter()
    for item in items:
        queue.put_nowait(item)
    await queue.join()
    elapsed = time.perf_counter() - started
    for consumer in consumers:
        consumer.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    return count / elapsed


async def queue_drain(count: int, workers: int) -> float:
    """asyncio.PriorityQueue pre-filled with ``count`` items; time the consumers draining it."""
    queue: asyncio.PriorityQueue[tuple[int, int, Any]] = asyncio.PriorityQueue()
    for seq in range(count):
        queue.put_nowait((0, seq, noop))
    gc.collect()
    started = time.perf_counter()
    consumers = [asyncio.create_task(_consume(queue)) for _ in range(workers)]
    await queue.join()
    elapsed = time.perf_counter() - started
    for consumer in consumers:
        consumer.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    return count / elapsed


def pool_end_to_end(count: int, workers: int) -> float:
    """ThreadPoolExecutor with its threads started: submit ``count`` no-ops, wait for all."""
    args = [None] * count
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        _start_threads(pool, workers).set()
        gc.collect()
        started = time.perf_counter()
        futures = [pool.submit(noop_sync, arg) for arg in args]
        concurrent.futures.wait(futures)
        elapsed = time.perf_counter() - started
    return count / elapsed


def pool_drain(count: int, workers: int) -> float:
    """ThreadPoolExecutor whose threads are held while ``count`` no-ops are queued; time the drain."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        gate = _start_threads(pool, workers)
        futures = [pool.submit(noop_sync, None) for _ in range(count)]
        gc.collect()
        started = time.perf_counter()
        gate.set()
        concurrent.futures.wait(futures)
        elapsed = time.perf_counter() - started
    return count / elapsed


def _start_threads(pool: concurrent.futures.ThreadPoolExecutor, workers: int) -> threading.Event:
    """Occupy every thread of the pool (so all exist) until the returned event is set."""
    gate = threading.Event()
    arrived = threading.Barrier(workers + 1)

    def hold() -> None:
        arrived.wait()
        gate.wait()

    for _ in range(workers):
        pool.submit(hold)
    arrived.wait()
    return gate


# -- memory ---------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _queue_tasks(count: int) -> TaskManager:
    manager = new_manager(count, 8)
    manager.set_max_workers(0)  # nothing drains: every task stays queued
    tasks = [Task(execute=noop) for _ in range(count)]
    await manager.register_tasks(tasks)
    del tasks
    gc.collect()
    if manager.get_metrics().queue_depth != count:
        print("WARNING: not every task is queued", file=sys.stderr)
    return manager


async def memory_child(count: int) -> dict[str, float]:
    """Run in a fresh process: RSS growth, then (separately) tracemalloc's count, per queued task."""
    await _queue_tasks(10)  # import and warm every code path first
    gc.collect()
    before = rss_bytes()
    manager = await _queue_tasks(count)
    rss = (rss_bytes() - before) / count
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    del manager
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    manager = await _queue_tasks(count)
    traced = (tracemalloc.get_traced_memory()[0] - base) / count  # the manager is still alive here
    tracemalloc.stop()
    await manager.stop_now()
    return {"rss": rss, "traced": traced, "peak": peak}


def measure_memory(count: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(count)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(completed.stdout)
    return result


# -- report ---------------------------------------------------------------------------


def median_text(values: list[float]) -> str:
    spread = f"({min(values):,.0f}-{max(values):,.0f})"
    return f"{statistics.median(values):>9,.0f} {spread:<19}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000, help="async tasks per run (default 100000)")
    parser.add_argument("--sync-tasks", type=int, default=50_000, help="sync tasks per run (default 50000)")
    parser.add_argument("--workers", type=int, default=8, help="worker coroutines / threads (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--only", choices=("all", "async", "sync", "memory"), default="all")
    parser.add_argument("--telemetry", action="store_true",
                        help="also time the async runs with OpenTelemetry tracing and metrics on, against off")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(asyncio.run(memory_child(args.memory_child))))
        return

    begin = time.perf_counter()
    n, n_sync, workers = args.tasks, args.sync_tasks, args.workers
    print("pyworker in-memory benchmark")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} CPUs; {workers} consumer coroutines / threads; "
          f"median of {args.repeat} runs (min-max in brackets)")
    print(f"async runs: {n:,} no-op tasks; sync runs: {n_sync:,} no-op tasks; manager: TaskManager("
          f"max_workers={workers}, tasks_per_second=0, max_tasks=<tasks>), no tracer or meter\n")

    # name -> (manager measure, baseline measure, tasks, target); runs interleaved so noise hits both.
    rows: dict[str, tuple[Callable[[], float], Callable[[], float], float]] = {}
    if args.only in ("all", "async"):
        rows["async end-to-end (register + drain)"] = (
            lambda: asyncio.run(manager_end_to_end(noop, n, workers)),
            lambda: asyncio.run(queue_end_to_end(n, workers)), ASYNC_TARGET)
        rows["async drain only (pre-registered)"] = (
            lambda: asyncio.run(manager_drain(noop, n, workers)),
            lambda: asyncio.run(queue_drain(n, workers)), ASYNC_TARGET)
    if args.only in ("all", "sync"):
        rows["sync  end-to-end (register + drain)"] = (
            lambda: asyncio.run(manager_end_to_end(noop_sync, n_sync, workers)),
            lambda: pool_end_to_end(n_sync, workers), SYNC_TARGET)
        rows["sync  drain only (pre-registered)"] = (
            lambda: asyncio.run(manager_drain(noop_sync, n_sync, workers)),
            lambda: pool_drain(n_sync, workers), SYNC_TARGET)
    if args.telemetry:  # manager with telemetry vs the same manager without: ratio = 1 - overhead
        rows["async end-to-end, telemetry on / off"] = (
            lambda: asyncio.run(manager_end_to_end(noop, n, workers, telemetry=True)),
            lambda: asyncio.run(manager_end_to_end(noop, n, workers)), TELEMETRY_TARGET)
        rows["async drain only, telemetry on / off"] = (
            lambda: asyncio.run(manager_drain(noop, n, workers, telemetry=True)),
            lambda: asyncio.run(manager_drain(noop, n, workers)), TELEMETRY_TARGET)
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in rows}
    memory: list[dict[str, float]] = []
    for _ in range(args.repeat):
        for name, (manager_run, baseline_run, _target) in rows.items():
            results[name][0].append(manager_run())
            results[name][1].append(baseline_run())
        if args.only in ("all", "memory"):
            memory.append(measure_memory(n))

    summary: list[tuple[str, str, str, str, str, str]] = []  # figure, manager, baseline, ratio, target, verdict
    if rows:
        print(f"{'Throughput, tasks/s':<37}{'manager':>9}{'':<20}{'baseline':>9}{'':<20}{'ratio':>6}{'target':>10}")
        for name, (manager_rates, baseline_rates) in results.items():
            ratio = statistics.median(manager_rates) / statistics.median(baseline_rates)
            target = rows[name][2]
            verdict = "met" if ratio >= target else "MISSED"
            print(f"{name:<37}{median_text(manager_rates)} {median_text(baseline_rates)} "
                  f"{ratio:>6.2f}{f'>= {target:.2f}':>10}  {verdict}")
            summary.append((" ".join(name.split()), f"{statistics.median(manager_rates):,.0f}/s",
                            f"{statistics.median(baseline_rates):,.0f}/s", f"{ratio:.2f}x", f">= {target:.2f}x",
                            verdict))  # fmt: skip
        print(f"baselines: async = asyncio.PriorityQueue drained by {workers} coroutines awaiting the same no-op; "
              f"sync = ThreadPoolExecutor({workers}) running the same no-op def")
        if args.telemetry:
            print("telemetry rows: 'manager' = OtelTracer (BatchSpanProcessor, spans discarded) + OtelMeter on SDK "
                  "providers; 'baseline' = the same manager without them")
        print()
    if memory:
        rss = [m["rss"] for m in memory]
        traced = [m["traced"] for m in memory]
        peak = statistics.median(m["peak"] for m in memory)
        verdict = "met" if statistics.median(rss) < MEMORY_TARGET else "MISSED"
        summary.append(("memory per queued task (RSS growth)", f"{statistics.median(rss):,.0f} B", "", "",
                        f"< {MEMORY_TARGET:,} B", verdict))  # fmt: skip
        print(f"Memory with {n:,} tasks queued (no worker draining), bytes per queued task")
        print(f"  RSS growth (/proc/self/statm)  {median_text(rss)} target < {MEMORY_TARGET}  {verdict}")
        print(f"  tracemalloc                    {median_text(traced)}")
        print(f"  peak RSS of that process       {peak / 2**20:>10,.1f} MiB (ru_maxrss)\n")
    for provider in _PROVIDERS:
        provider.shutdown()
    print(f"Summary (`make bench-inmemory`, {n:,} async / {n_sync:,} sync tasks, {workers} workers, "
          f"medians of {args.repeat})")  # fmt: skip
    print("| figure | pyworker | baseline | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")
    print("baselines: async rows = a bare asyncio.PriorityQueue loop; sync rows = ThreadPoolExecutor; "
          "telemetry rows = the same manager without telemetry\n")
    print(f"total runtime {time.perf_counter() - begin:.1f} s")


if __name__ == "__main__":
    main()
