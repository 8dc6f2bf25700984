"""Baseline consumers for bench/durable.py: a bare BRPOP loop and a Huey consumer, same job and probe.

Run by the benchmark as ``python -c "import durable_baselines as b; b.main()" brpop|huey``
(with ``bench/`` on PYTHONPATH, so producer and consumer import the Huey tasks
from the same module name). Each consumer prints ``ready`` on stderr, waits for
the go key (``BLPOP <key>:go``), then consumes until SIGTERM.

The job is the one bench/durable_app.py runs: ``noop`` INCRs ``<key>:count`` and
the run that reaches ``DURABLE_BENCH_N`` LPUSHes ``<key>:done``; ``echo`` LPUSHes
``<key>:reply``. Environment as in durable_app, plus ``DURABLE_BENCH_HUEY``
(the Huey name), ``DURABLE_BENCH_HUEY_WORKERS`` and ``DURABLE_BENCH_HUEY_TYPE``;
``DURABLE_BENCH_NO_GO=1`` consumes at once, without waiting for the go key (start-up figure).
"""

from __future__ import annotations

import os
import sys

import redis
from huey import RedisHuey
from huey.consumer import Consumer

URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = os.environ.get("DURABLE_BENCH_KEY", "pyworker-bench")
N = int(os.environ.get("DURABLE_BENCH_N", "0"))
COUNT = f"{KEY}:count"
DONE = f"{KEY}:done"
REPLY = f"{KEY}:reply"
GO = f"{KEY}:go"
BRPOP_QUEUE = f"{KEY}:brpop"
ECHO = b"echo"

HUEY_NAME = os.environ.get("DURABLE_BENCH_HUEY", "pyworker_bench")
HUEY_WORKERS = int(os.environ.get("DURABLE_BENCH_HUEY_WORKERS", "8"))
HUEY_TYPE = os.environ.get("DURABLE_BENCH_HUEY_TYPE", "thread")

huey = RedisHuey(HUEY_NAME, url=URL)  # blocking BRPOP dequeue (read_timeout 1s), Huey's defaults
_client = redis.Redis.from_url(URL)  # thread-safe pool, shared by Huey's worker threads


@huey.task()
def noop() -> None:
    if _client.incr(COUNT) == N:
        _client.lpush(DONE, b"1")


@huey.task()
def echo() -> None:
    _client.lpush(REPLY, b"1")


def _ready_then_go() -> None:
    if os.environ.get("DURABLE_BENCH_NO_GO"):  # start-up figure: consume at once
        return
    client = redis.Redis.from_url(URL, socket_timeout=None)  # redis-py 8's default 5 s would cut a long BLPOP
    print("ready", file=sys.stderr, flush=True)
    client.blpop([GO], timeout=0)
    client.close()


def brpop_loop() -> None:
    """The floor: one BRPOP and one no-op + probe per task, nothing else."""
    client = redis.Redis.from_url(URL)
    _ready_then_go()
    while True:
        item = client.brpop([BRPOP_QUEUE], timeout=1)
        if item is None:
            continue
        if item[1] == ECHO:
            client.lpush(REPLY, b"1")
        elif client.incr(COUNT) == N:
            client.lpush(DONE, b"1")


def huey_consumer() -> None:
    """huey_consumer's Consumer, without the periodic scheduler; stops on SIGTERM."""
    consumer = Consumer(huey, workers=HUEY_WORKERS, worker_type=HUEY_TYPE, periodic=False)
    _ready_then_go()
    consumer.run()


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "brpop":
        brpop_loop()
    elif kind == "huey":
        huey_consumer()
    else:
        sys.exit("usage: durable_baselines brpop|huey")


if __name__ == "__main__":
    main()
