"""Fault tests with real worker processes: SIGKILL mid-task, a node killed mid-run, Redis restarted."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
import redis

from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.application import DurableAdmin
from pyworker.domain import DurableState, DurableTask
from tests.support.redis_servers import redis_available, start_redis_server
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

SHARED_URL = "redis://127.0.0.1:6379/0"


class WorkerNode(WorkerProcess):
    """A `workerctl worker` process running tests.support.fault_app."""

    def __init__(self, redis_url: str, prefix: str, probe: str, *extra: str) -> None:
        env = {**os.environ, "FAULT_REDIS_URL": redis_url, "FAULT_KEY": probe, "PYTHONPATH": str(ROOT)}
        super().__init__(
            [
                "--app", "tests.support.fault_app:registry", "--codec", "json",
                "--redis-url", redis_url, "--redis-prefix", prefix, "--lease", "1s", "--poll", "50ms",
                "--concurrency", "8", "--batch", "8", *extra,
            ],
            env,
        )  # fmt: skip




def enqueue(url: str, prefix: str, messages: list[dict[str, object]], retries: int = 3) -> list[uuid.UUID]:
    async def run() -> list[uuid.UUID]:
        backend = RedisDurableBackend(new_redis_client(url), prefix=prefix, close_client=True)
        try:
            tasks = [
                DurableTask(handler="record", payload=json.dumps(m).encode(), id=uuid.uuid4(), retries=retries,
                            retry_delay=0.05)
                for m in messages
            ]  # fmt: skip
            outcomes = await backend.enqueue_many(tasks)
        finally:
            await backend.close()
        assert all(isinstance(o, uuid.UUID) for o in outcomes), outcomes
        return [o for o in outcomes if isinstance(o, uuid.UUID)]

    return asyncio.run(run())


def leftovers(url: str, prefix: str) -> tuple[int, int, int, set[str]]:
    """(ready, delayed, dead, ids still leased) after the workers stopped."""

    async def run() -> tuple[int, int, int, set[str]]:
        backend = RedisDurableBackend(new_redis_client(url), prefix=prefix, close_client=True)
        try:
            stats = await backend.stats()
            leased = [record async for record in DurableAdmin(backend).iter_tasks(DurableState.PROCESSING)]
        finally:
            await backend.close()
        return stats.total_ready, stats.total_delayed, stats.dead, {str(r.id) for r in leased}

    return asyncio.run(run())


def text(value: bytes | str) -> str:
    """A reply of the test's own client (it does not decode responses) as text."""
    return value.decode() if isinstance(value, bytes) else value


def wait_progress(client: redis.Redis, probe: str, count: int, timeout: float = 60.0) -> int:
    """Block on the probe's progress list until ``count`` more runs are recorded."""
    seen = 0
    while seen < count:
        item = client.blpop([f"{probe}:progress"], timeout=timeout)
        assert item is not None, f"only {seen} of {count} runs were recorded within {timeout}s"
        seen += 1
    return seen


def test_sigkill_mid_task_is_redelivered_and_completed_by_another_node(names: tuple[str, str]) -> None:
    prefix, probe = names
    client = redis.Redis.from_url(SHARED_URL)
    first = WorkerNode(SHARED_URL, prefix, probe)
    second: WorkerNode | None = None
    try:
        (task_id,) = enqueue(SHARED_URL, prefix, [{"hang_first": True}])
        started = client.blpop([f"{probe}:started"], timeout=30)
        assert started is not None
        assert text(started[1]) == str(task_id)
        first.kill()  # in the middle of the task: no ack, no nack, no release

        second = WorkerNode(SHARED_URL, prefix, probe)
        done = client.blpop([f"{probe}:progress"], timeout=30)
        assert done is not None
        run_id, attempt, pid = text(done[1]).split(":")
        assert run_id == str(task_id)
        assert int(attempt) == 2  # the killed delivery counted as attempt 1
        assert int(pid) == second.process.pid
        assert client.smembers(f"{probe}:done") == {str(task_id).encode()}
        assert second.stop() == 0
        assert leftovers(SHARED_URL, prefix) == (0, 0, 0, set())
    finally:
        for node in (first, second):
            if node is not None and node.process.poll() is None:
                node.kill()
        client.close()


def test_nothing_lost_across_1000_tasks_when_a_node_is_killed_mid_run(names: tuple[str, str]) -> None:
    prefix, probe = names
    client = redis.Redis.from_url(SHARED_URL)
    nodes = [WorkerNode(SHARED_URL, prefix, probe), WorkerNode(SHARED_URL, prefix, probe)]
    try:
        ids = enqueue(SHARED_URL, prefix, [{"sleep": 0.02} for _ in range(1000)])
        wait_progress(client, probe, 200)
        nodes[0].kill()
        while client.scard(f"{probe}:done") < len(ids):
            assert client.blpop([f"{probe}:progress"], timeout=60) is not None, "progress stalled"
        done = {text(member) for member in client.smembers(f"{probe}:done")}
        assert done == {str(i) for i in ids}
        assert int(client.get(f"{probe}:runs") or 0) >= len(ids)
        assert nodes[1].stop() == 0
        assert leftovers(SHARED_URL, prefix) == (0, 0, 0, set())
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.kill()
        client.close()


def test_workers_reconnect_and_finish_after_redis_restarts(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path / "redis", appendonly=True, appendfsync="always")
    prefix, probe = f"pyworker-restart-{uuid.uuid4().hex}", "probe"
    client = redis.Redis.from_url(server.url)
    node: WorkerNode | None = None
    try:
        node = WorkerNode(server.url, prefix, probe, "--concurrency", "4", "--max-retries", "20")
        ids = enqueue(server.url, prefix, [{"sleep": 0.01} for _ in range(300)], retries=20)
        wait_progress(client, probe, 50)
        client.close()
        server.restart()  # the AOF keeps every enqueued task and every recorded run
        client = redis.Redis.from_url(server.url)
        while client.scard(f"{probe}:done") < len(ids):
            assert client.blpop([f"{probe}:progress"], timeout=60) is not None, "progress stalled"
        done = {text(member) for member in client.smembers(f"{probe}:done")}
        assert done == {str(i) for i in ids}
        assert node.stop() == 0
        ready, delayed, dead, leased = leftovers(server.url, prefix)
        assert (ready, delayed, dead) == (0, 0, 0)
        # An ack lost in the outage leaves a lease that expires into a redelivery of
        # work already done (at-least-once); nothing unfinished may be left behind.
        assert leased <= done
    finally:
        if node is not None and node.process.poll() is None:
            node.kill()
        client.close()
        server.stop()
