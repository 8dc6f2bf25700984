"""The node registry with real processes (docs/cluster.md#nodes): three `workerctl worker`
nodes are listed by `workerctl durable nodes --json`; one SIGKILLed disappears within its
TTL while its lease is reclaimed by another node; graceful stops deregister at once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import pytest
import redis

from pyworker.adapters.redis import RedisNodeRegistry, new_redis_client
from tests.integration.test_worker_faults import (  # the fault tests' node
    SHARED_URL,
    WorkerNode,
    enqueue,
    text,
)
from tests.support.redis_servers import redis_available
from tests.support.worker_process import ROOT, WORKERCTL

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

TTL = 2.0
NODE_FLAGS = ("--node-ttl", "2s", "--renew", "250ms")
#: The longest a wait below may take: the TTL plus a loaded machine's slack.
BOUND = TTL + 8.0


def cli_nodes(prefix: str) -> list[dict[str, Any]]:
    """``workerctl durable nodes --json`` in its own process: one dict per line."""
    done = subprocess.run(
        [str(WORKERCTL), "durable", "nodes", "--json", "--redis-url", SHARED_URL, "--redis-prefix", prefix],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def listed(prefix: str) -> list[dict[str, Any]]:
    """The live nodes read directly (fast, for polling), as {pid, running} dicts."""

    async def go() -> list[dict[str, Any]]:
        client = new_redis_client(SHARED_URL)
        try:
            return [{"pid": n.pid, "running": n.running} for n in await RedisNodeRegistry(client, prefix).list_nodes()]
        finally:
            await client.aclose()

    return asyncio.run(go())


def wait_for(prefix: str, check: Any, what: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + BOUND
    while True:
        nodes = listed(prefix)
        if check(nodes):
            return nodes
        assert time.monotonic() < deadline, f"{what}: still {nodes} after {BOUND:g}s"
        time.sleep(0.05)


def test_three_nodes_are_listed_and_a_killed_one_disappears_within_its_ttl(names: tuple[str, str]) -> None:
    prefix, probe = names
    client = redis.Redis.from_url(SHARED_URL)
    nodes: list[WorkerNode] = []
    try:
        # --renew: the first node keeps its 1 s lease while it lives (renewal is off by
        # default), so only the kill below lets another node take the task over.
        nodes.append(WorkerNode(SHARED_URL, prefix, probe, *NODE_FLAGS))
        (task_id,) = enqueue(SHARED_URL, prefix, [{"hang_first": True}])
        started = client.blpop([f"{probe}:started"], timeout=30)
        assert started is not None  # the first node holds the task's lease and hangs in it
        nodes += [WorkerNode(SHARED_URL, prefix, probe, *NODE_FLAGS) for _ in range(2)]
        first, second, third = (node.process.pid for node in nodes)
        wait_for(prefix, lambda found: {n["pid"]: n["running"] for n in found} == {first: 1, second: 0, third: 0},
                 "three nodes, the first running its task")  # fmt: skip

        shown = cli_nodes(prefix)
        assert sorted(n["pid"] for n in shown) == sorted([first, second, third])
        for line in shown:
            assert (line["concurrency"], line["ttl"], line["queues"]) == (8, TTL, [])
            assert line["version"]
            assert f"-{line['pid']}-" in line["node_id"]  # host-pid-random

        nodes[0].kill()  # no deregistration: only the TTL removes it
        wait_for(prefix, lambda found: sorted(n["pid"] for n in found) == sorted([second, third]),
                 "the killed node gone")  # fmt: skip
        assert sorted(n["pid"] for n in cli_nodes(prefix)) == sorted([second, third])

        # Its lease is reclaimed as before: another node runs the task again and completes it.
        done = client.blpop([f"{probe}:progress"], timeout=30)
        assert done is not None
        run_id, attempt, pid = text(done[1]).split(":")
        assert (run_id, int(attempt)) == (str(task_id), 2)
        assert int(pid) in (second, third)

        assert nodes[1].stop() == 0
        assert [n["pid"] for n in cli_nodes(prefix)] == [third]  # a graceful stop deregisters at once
        assert nodes[2].stop() == 0
        assert cli_nodes(prefix) == []
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.kill()
        client.close()
