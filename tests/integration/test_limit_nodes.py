"""Three real `workerctl worker` nodes under one cluster-wide limit: the global rate, a queue's concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.domain import DurableTask
from tests.support.redis_servers import redis_available
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

URL = "redis://127.0.0.1:6379/0"
RATE, BURST, WINDOW = 50, 10, 4.0


class LimitedNode(WorkerProcess):
    """A `workerctl worker` process running tests.support.limits_app with the given limit flags."""

    def __init__(self, prefix: str, key: str, *limits: str) -> None:
        env = {**os.environ, "LIMITS_REDIS_URL": URL, "LIMITS_KEY": key, "PYTHONPATH": str(ROOT)}
        super().__init__(
            [
                "--app", "tests.support.limits_app:registry", "--codec", "json",
                "--redis-url", URL, "--redis-prefix", prefix, "--concurrency", "4", "--prefetch", "0",
                "--node-ttl", "0", *limits,
            ],
            env,
        )  # fmt: skip


def start_nodes(prefix: str, key: str, *limits: str, count: int = 3) -> list[LimitedNode]:
    """``count`` nodes started side by side (each returns once it printed its banner)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: LimitedNode(prefix, key, *limits), range(count)))


def banner(node: LimitedNode) -> str:
    return next(line for line in node.log if line.startswith("worker ready"))


def stop_all(nodes: list[LimitedNode]) -> None:
    with ThreadPoolExecutor(len(nodes)) as pool:
        codes = list(pool.map(lambda node: node.stop(), nodes))
    assert codes == [0] * len(nodes), [node.log for node in nodes]




def enqueue(prefix: str, count: int, queue: str = "default", sleep: float = 0.0) -> None:
    async def run() -> None:
        backend = RedisDurableBackend(new_redis_client(URL), prefix=prefix, close_client=True)
        try:
            message = json.dumps({"sleep": sleep}).encode()
            tasks = [DurableTask("probe", payload=message, id=uuid.uuid4(), queue=queue) for _ in range(count)]
            outcomes = await backend.enqueue_many(tasks)
        finally:
            await backend.close()
        assert all(isinstance(o, uuid.UUID) for o in outcomes), outcomes

    asyncio.run(run())


def wait_until(check: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {seconds:g}s"
        time.sleep(0.05)


def test_three_nodes_start_no_more_than_rate_times_time_plus_burst(names: tuple[str, str]) -> None:
    prefix, key = names
    client = redis.Redis.from_url(URL)
    nodes = start_nodes(prefix, key, "--global-rate-limit", f"{RATE}:{BURST}")
    try:
        assert f"global_rate_limit={RATE}:{BURST} " in banner(nodes[0])  # the banner says what it set
        # No lease can come before the enqueue: a start by `opened + WINDOW` had its lease in the window.
        opened = time.time()
        enqueue(prefix, 600)  # far more than the window can start
        wait_until(lambda: time.time() > opened + WINDOW + 0.2, "the end of the window", WINDOW + 10)
    finally:
        stop_all(nodes)
        rows = [
            (row.decode() if isinstance(row, bytes) else row).split() for row in client.lrange(f"{key}:starts", 0, -1)
        ]
        starts = sorted(float(row[0]) for row in rows)
        client.close()

    in_window = [t for t in starts if t <= opened + WINDOW]
    assert len(in_window) <= RATE * WINDOW + BURST, len(in_window)
    assert len(in_window) >= RATE * WINDOW * 0.6, len(in_window)  # limited, not stopped
    assert len(starts) < 600  # the limit held them back: most never started


def test_three_nodes_never_run_more_than_the_queue_cap(names: tuple[str, str]) -> None:
    prefix, key = names
    client = redis.Redis.from_url(URL)
    nodes = start_nodes(prefix, key, "--queue-concurrency", "q=3")
    try:
        assert " queue_concurrency=q=3 " in banner(nodes[0])
        enqueue(prefix, 24, queue="q", sleep=0.25)  # 4 workers on each of 3 nodes: 12 could run at once
        wait_until(lambda: int(client.get(f"{key}:done") or 0) == 24, "24 runs done")
    finally:
        stop_all(nodes)
        peak = int(client.get(f"{key}:peak") or 0)
        client.close()

    assert peak == 3  # never more than the cap, and the cap is reached
