"""The async peers of bench/durable.py: SAQ, Taskiq (taskiq-redis) and arq, same job, same probe.

Run by the benchmark, each from its own venv under ``.cache/bench-peers/`` (pinned in
``bench/peer-<peer>.txt``: SAQ and arq want an older redis-py than pyworker's, Taskiq
brings pydantic, which would weigh on pyworker's worker in the project's venv):

    python bench/peers.py PEER version            # prints the peer's version
    python bench/peers.py PEER enqueue            # N one-by-one enqueues; prints {"rate": tasks/s}
    python bench/peers.py PEER consume            # a worker: prints "ready" on stderr, waits for the go key
    python bench/peers.py PEER latency RUNS       # RUNS x LATENCY_N echo round trips; prints {"runs": [[s, ...]]}

This file imports neither pyworker nor the bench: it runs in the peers' venvs. The job
is bench/durable_app.py's: ``noop`` INCRs ``<key>:count`` and the run that reaches
``DURABLE_BENCH_N`` LPUSHes ``<key>:done``; ``echo`` LPUSHes ``<key>:reply``. The probe
uses the peer venv's redis.asyncio (as pyworker's handler does). Each peer uses only
names under ``DURABLE_BENCH_PEER_NAME`` (its queue; arq's job ids too), which
bench/durable.py deletes after the run.

Settings (each peer's best for this job on this machine, printed by the benchmark):
``DURABLE_BENCH_PEER_CONCURRENCY`` (SAQ ``concurrency``, Taskiq ``max_async_tasks``,
arq ``max_jobs``), ``DURABLE_BENCH_ARQ_POLL`` (arq's ``poll_delay``, seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = os.environ.get("DURABLE_BENCH_KEY", "pyworker-bench")
N = int(os.environ.get("DURABLE_BENCH_N", "0"))
NAME = os.environ.get("DURABLE_BENCH_PEER_NAME", "pyworker-bench-peer")
CONCURRENCY = int(os.environ.get("DURABLE_BENCH_PEER_CONCURRENCY", "64"))
ARQ_POLL = float(os.environ.get("DURABLE_BENCH_ARQ_POLL", "0.01"))
LATENCY_N = int(os.environ.get("DURABLE_BENCH_LATENCY_N", "200"))
COUNT, DONE, REPLY, GO = f"{KEY}:count", f"{KEY}:done", f"{KEY}:reply", f"{KEY}:go"

_probe: aioredis.Redis | None = None


def probe() -> aioredis.Redis:
    global _probe
    if _probe is None:
        _probe = aioredis.Redis.from_url(URL, socket_timeout=None, max_connections=4096)
    return _probe


async def job_noop() -> None:
    client = probe()
    if await client.incr(COUNT) == N:
        await client.lpush(DONE, b"1")


async def job_echo() -> None:
    await probe().lpush(REPLY, b"1")


async def noop(ctx: Any) -> None:
    """SAQ's and arq's job (they name a job by its function's ``__qualname__``)."""
    await job_noop()


async def echo(ctx: Any) -> None:
    await job_echo()


async def ready_then_go() -> None:
    client = aioredis.Redis.from_url(URL, socket_timeout=None)
    print("ready", file=sys.stderr, flush=True)
    await client.blpop([GO], timeout=0)
    await client.aclose()


# -- SAQ ------------------------------------------------------------------------------------------


class Saq:
    def __init__(self) -> None:
        from saq import Queue

        self.queue = Queue.from_url(URL, name=NAME)

    @staticmethod
    def version() -> str:
        import saq

        return f"saq {saq.__version__}"

    async def enqueue(self, name: str) -> None:
        await self.queue.enqueue(name)

    async def consume(self) -> None:
        from saq import Worker

        worker = Worker(self.queue, functions=[noop, echo], concurrency=CONCURRENCY)
        await self.queue.connect()
        await ready_then_go()
        await worker.start()

    async def close(self) -> None:
        await self.queue.disconnect()


# -- Taskiq ---------------------------------------------------------------------------------------


class Taskiq:
    def __init__(self) -> None:
        from taskiq_redis import ListQueueBroker

        self.broker = ListQueueBroker(URL, queue_name=NAME)
        self.tasks = {
            "noop": self.broker.task(task_name="noop")(job_noop),
            "echo": self.broker.task(task_name="echo")(job_echo),
        }

    @staticmethod
    def version() -> str:
        from importlib.metadata import version

        return f"taskiq {version('taskiq')}, taskiq-redis {version('taskiq-redis')}"

    async def enqueue(self, name: str) -> None:
        await self.tasks[name].kiq()

    async def consume(self) -> None:
        from taskiq.api import run_receiver_task

        self.broker.is_worker_process = True
        await self.broker.startup()
        await ready_then_go()
        await run_receiver_task(self.broker, max_async_tasks=CONCURRENCY, max_prefetch=CONCURRENCY)

    async def close(self) -> None:
        await self.broker.shutdown()


# -- arq ------------------------------------------------------------------------------------------


class Arq:
    def __init__(self) -> None:
        from arq.connections import RedisSettings

        self.settings = RedisSettings.from_dsn(URL)
        self.pool: Any = None

    @staticmethod
    def version() -> str:
        from importlib.metadata import version

        return f"arq {version('arq')}"

    async def enqueue(self, name: str) -> None:
        if self.pool is None:
            from arq import create_pool

            self.pool = await create_pool(self.settings, default_queue_name=NAME)
        # arq keys jobs by id under its own global prefixes (arq:job:<id>): ids carry our name
        await self.pool.enqueue_job(name, _job_id=f"{NAME}-{uuid.uuid4().hex}", _queue_name=NAME)

    async def consume(self) -> None:
        from arq.worker import Worker, func

        worker = Worker(
            functions=[func(noop, name="noop"), func(echo, name="echo")],
            redis_settings=self.settings,
            queue_name=NAME,
            max_jobs=CONCURRENCY,
            poll_delay=ARQ_POLL,
            keep_result=0,
            handle_signals=False,
        )
        await ready_then_go()
        await worker.async_run()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


PEERS: dict[str, Callable[[], Any]] = {"saq": Saq, "taskiq": Taskiq, "arq": Arq}


async def timed_enqueue(peer: Any) -> float:
    await peer.enqueue("noop")  # the first of the N: connection set-up, untimed
    start = time.perf_counter()
    for _ in range(N - 1):
        await peer.enqueue("noop")
    return (N - 1) / (time.perf_counter() - start)


async def latency(peer: Any, runs: int) -> list[list[float]]:
    client = aioredis.Redis.from_url(URL, socket_timeout=None)

    async def one() -> float:
        start = time.perf_counter()
        await peer.enqueue("echo")
        if await client.blpop([REPLY], timeout=10) is None:
            raise RuntimeError("no reply from the peer worker")
        return time.perf_counter() - start

    try:
        return await sequential(one, runs)
    finally:
        await client.aclose()


async def sequential(one: Callable[[], Awaitable[float]], runs: int) -> list[list[float]]:
    """As bench/durable.py's: 20 warm-ups, then runs x LATENCY_N, the consumer idle before each."""
    for _ in range(20):
        await one()
        await asyncio.sleep(0.002)
    out: list[list[float]] = []
    for _ in range(runs):
        samples: list[float] = []
        for _ in range(LATENCY_N):
            await asyncio.sleep(0.003)
            samples.append(await one())
        out.append(samples)
    return out


async def amain(name: str, action: str, args: list[str]) -> None:
    cls = PEERS[name]
    if action == "version":
        print(cls.version())
        return
    peer = cls()
    try:
        if action == "enqueue":
            print(json.dumps({"rate": await timed_enqueue(peer)}))
        elif action == "consume":
            await peer.consume()
        elif action == "latency":
            print(json.dumps({"runs": await latency(peer, int(args[0]))}))
        else:
            raise SystemExit(f"unknown action {action!r}")
    finally:
        await peer.close()
        if _probe is not None:
            await _probe.aclose()


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in PEERS:
        raise SystemExit(f"usage: peers.py {'|'.join(PEERS)} version|enqueue|consume|latency RUNS")
    asyncio.run(amain(sys.argv[1], sys.argv[2], sys.argv[3:]))


if __name__ == "__main__":
    main()
