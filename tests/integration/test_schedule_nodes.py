"""Three real `workerctl worker` nodes share one durable schedule: one task per tick, also after a SIGKILL."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis

from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.domain.schedule import FireOutcome, FireRecord, tick_task_id
from tests.support.redis_servers import redis_available
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

URL = "redis://127.0.0.1:6379/0"
APP = "tests.support.schedule_app"
NAME = "every-second"


class Node(WorkerProcess):
    """A `workerctl worker` process running the schedule app; started once it printed its banner."""

    def __init__(self, prefix: str, key: str) -> None:
        env = {**os.environ, "SCHED_REDIS_URL": URL, "SCHED_KEY": key, "PYTHONPATH": str(ROOT)}
        super().__init__(
            [
                "--app", f"{APP}:registry", "--schedules", f"{APP}:schedules",
                "--codec", "json", "--redis-url", URL, "--redis-prefix", prefix, "--lease", "2s",
                "--poll", "100ms", "--concurrency", "4",
            ],
            env,
        )  # fmt: skip




def history(prefix: str) -> list[FireRecord]:
    async def read() -> list[FireRecord]:
        backend = RedisDurableBackend(new_redis_client(URL), prefix=prefix, close_client=True)
        try:
            return await backend.schedule_store().history(NAME, 1000)
        finally:
            await backend.close()

    return asyncio.run(read())


def wait_for_fires(prefix: str, count: int, seconds: float = 30.0) -> list[FireRecord]:
    """Poll the shared history until it holds ``count`` fires (bounded)."""
    deadline = time.monotonic() + seconds
    while True:
        records = history(prefix)
        if len(records) >= count:
            return records
        assert time.monotonic() < deadline, f"only {len(records)} of {count} fires within {seconds:g}s"
        time.sleep(0.2)


def runs(key: str) -> dict[int, int]:
    client = redis.Redis.from_url(URL)
    try:
        return {int(tick): int(n) for tick, n in client.hgetall(f"{key}:runs").items()}
    finally:
        client.close()


def check_one_task_per_tick(records: list[FireRecord]) -> list[int]:
    """Every fire is a distinct, consecutive second with the tick's deterministic task id."""
    assert all(r.outcome is FireOutcome.FIRED for r in records)
    ticks = sorted(round(r.tick * 1000) for r in records if r.tick is not None)
    assert len(ticks) == len(records) == len(set(ticks)), "a tick fired twice"
    assert ticks == list(range(ticks[0], ticks[-1] + 1000, 1000)), "a tick is missing in the middle"
    assert all(r.task_id == tick_task_id(NAME, r.tick) for r in records if r.tick is not None)
    return ticks


def test_three_nodes_create_exactly_one_task_per_tick_even_when_one_is_killed(names: tuple[str, str]) -> None:
    prefix, key = names
    nodes = [Node(prefix, key) for _ in range(3)]
    try:
        fired_before_kill = len(wait_for_fires(prefix, 5))
        nodes[1].kill()  # SIGKILL mid-run: nothing handed back, its scheduler gone
        wait_for_fires(prefix, fired_before_kill + 7)
    finally:
        codes = [node.stop() for node in (nodes[0], nodes[2])]
    assert codes == [0, 0], "".join(nodes[0].log + nodes[2].log)
    records = history(prefix)
    ticks = check_one_task_per_tick(records)
    assert len(ticks) >= 12

    # Every fired tick ran; a task runs twice at most when the killed node held its lease.
    def all_ran() -> bool:
        return set(runs(key)) >= set(ticks)

    survivor = Node(prefix, key)  # drains what the stop left (a task fired during the graceful stop)
    try:
        deadline = time.monotonic() + 20
        while not all_ran():
            assert time.monotonic() < deadline, f"ticks never ran: {sorted(set(ticks) - set(runs(key)))}"
            time.sleep(0.2)
    finally:
        assert survivor.stop() == 0
    counts = runs(key)
    assert sum(1 for tick in ticks if counts[tick] > 1) <= 1, counts
    # The survivor's own fires continue the same sequence: no tick twice across restarts.
    check_one_task_per_tick(history(prefix))
