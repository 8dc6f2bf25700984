"""gRPC benchmark: RegisterTasks throughput and register-to-result latency through
`workerctl serve`, next to a bare grpc.aio unary echo server (the floor Python gRPC pays).

Each server runs in its own process; this process is the one client. Run: `make bench-grpc`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from pyworker.protos.worker.v1 import payload_pb2, worker_pb2, worker_pb2_grpc

ONE_TASK_TARGET = 0.7  # one-task RegisterTasks >= 0.7x the bare echo rate
BATCH_TARGET = 50_000  # tasks/s with 100 tasks per request
P50_TARGET_MS = 1.0  # register-to-result p50 on the in-memory backend
CONCURRENCY = 32
BATCH = 100
ECHO = "/bench.Echo/Echo"
WORKERCTL = Path(sys.executable).with_name("workerctl")


async def serve_echo() -> None:
    """A bare grpc.aio server with one unary method returning its request, parsed and
    serialised as protobuf like every real call (the same RegisterTasksRequest bytes)."""

    async def echo(request: worker_pb2.RegisterTasksRequest, _context: Any) -> worker_pb2.RegisterTasksRequest:
        return request

    method = grpc.unary_unary_rpc_method_handler(
        echo, worker_pb2.RegisterTasksRequest.FromString, worker_pb2.RegisterTasksRequest.SerializeToString
    )
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": method})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"serve ready: address=127.0.0.1:{port}", file=sys.stderr, flush=True)
    await server.wait_for_termination()


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"serve ready: address=(\S+)", line)
        if match:
            return process, match.group(1)
    raise SystemExit(f"server did not start: {command}")


async def rate(call: Callable[[], Awaitable[Any]], seconds: float, concurrency: int, per_call: int = 1) -> float:
    """Items per second with ``concurrency`` callers looping for ``seconds``."""
    done = 0
    end = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await call()
            done += per_call

    begin = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done / (time.perf_counter() - begin)


def email_task() -> worker_pb2.Task:
    task = worker_pb2.Task(name="send_email")
    task.payload.Pack(payload_pb2.SendEmailPayload(to="bench@example.com", subject="s", body="b"))
    return task


async def latency(stub: Any, samples: int) -> list[float]:
    """Register one task at a time and time until its result arrives on StreamResults."""
    arrived: dict[str, float] = {}
    waiters: dict[str, asyncio.Future[float]] = {}
    stream = stub.StreamResults(worker_pb2.StreamResultsRequest())

    async def pump() -> None:
        async for result in stream:
            now = time.perf_counter()
            waiter = waiters.pop(result.id, None)
            if waiter is None:
                arrived[result.id] = now
            else:
                waiter.set_result(now)

    await stream.initial_metadata()  # sent once the server subscribed
    reader = asyncio.ensure_future(pump())
    request = worker_pb2.RegisterTasksRequest(tasks=[email_task()])
    times = []
    for _ in range(samples):
        begin = time.perf_counter()
        (task_id,) = (await stub.RegisterTasks(request)).ids
        if task_id in arrived:
            end = arrived.pop(task_id)
        else:
            waiters[task_id] = asyncio.get_running_loop().create_future()
            end = await asyncio.wait_for(waiters[task_id], 5)
        times.append((end - begin) * 1000)
    stream.cancel()
    reader.cancel()
    return times


async def drained(stub: Any) -> None:
    """Wait until the tasks of the last phase ran: a sentinel registered now (FIFO) finishes after them."""
    (sentinel,) = (await stub.RegisterTasks(worker_pb2.RegisterTasksRequest(tasks=[email_task()]))).ids
    async for _ in stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[sentinel], close_on_completion=True)):
        pass


async def measure(seconds: float, samples: int) -> dict[str, float]:
    echo_process, echo_target = start([sys.executable, __file__, "--serve-echo"])
    serve_process, serve_target = start([str(WORKERCTL), "serve", "--address", "127.0.0.1:0",
                                         "--concurrency", "8", "--max-tasks", "10000000"])
    try:
        async with grpc.aio.insecure_channel(echo_target) as echo_channel, \
                grpc.aio.insecure_channel(serve_target) as channel:
            echo_call = echo_channel.unary_unary(
                ECHO,
                request_serializer=worker_pb2.RegisterTasksRequest.SerializeToString,
                response_deserializer=worker_pb2.RegisterTasksRequest.FromString,
            )
            payload = worker_pb2.RegisterTasksRequest(tasks=[email_task()])
            stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
            one = worker_pb2.RegisterTasksRequest(tasks=[email_task()])
            batch = worker_pb2.RegisterTasksRequest(tasks=[email_task() for _ in range(BATCH)])
            await rate(lambda: echo_call(payload), 0.5, CONCURRENCY)  # warm up both
            await rate(lambda: stub.RegisterTasks(one), 0.5, CONCURRENCY)
            await drained(stub)
            figures = {"echo_rps": await rate(lambda: echo_call(payload), seconds, CONCURRENCY)}
            figures["one_task_rps"] = await rate(lambda: stub.RegisterTasks(one), seconds, CONCURRENCY)
            await drained(stub)
            figures["batched_tasks_per_s"] = await rate(lambda: stub.RegisterTasks(batch), seconds, 4, BATCH)
            await drained(stub)
            times = await latency(stub, samples)
            quantiles = statistics.quantiles(times, n=100)
            figures["latency_p50_ms"] = statistics.median(times)
            figures["latency_p99_ms"] = quantiles[98]
            return figures
    finally:
        for process in (echo_process, serve_process):
            process.terminate()
            process.wait(timeout=30)


def report(figures: dict[str, float]) -> None:
    ratio = figures["one_task_rps"] / figures["echo_rps"]

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, client and each server in its own process")
    print(f"bare grpc.aio unary echo of the same request ({CONCURRENCY} concurrent): "
          f"{figures['echo_rps']:>10,.0f} calls/s")
    print(f"RegisterTasks, 1 task/request ({CONCURRENCY} concurrent): {figures['one_task_rps']:>10,.0f} tasks/s"
          f"  = {ratio:.2f}x echo (target >= {ONE_TASK_TARGET}x: {verdict(ratio >= ONE_TASK_TARGET)})")
    batched = figures["batched_tasks_per_s"]
    print(f"RegisterTasks, {BATCH} tasks/request (4 concurrent): {batched:>10,.0f} tasks/s"
          f"  (target >= {BATCH_TARGET:,}: {verdict(batched >= BATCH_TARGET)})")
    p50, p99 = figures["latency_p50_ms"], figures["latency_p99_ms"]
    print(f"register-to-result via StreamResults: p50 {p50:.3f} ms, p99 {p99:.3f} ms"
          f"  (target p50 < {P50_TARGET_MS} ms: {verdict(p50 < P50_TARGET_MS)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each throughput phase")
    parser.add_argument("--samples", type=int, default=2000, help="register-to-result samples")
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        asyncio.run(serve_echo())
        return
    report(asyncio.run(measure(args.seconds, args.samples)))


if __name__ == "__main__":
    main()
