"""`workerctl durable nodes` in-process (docs/workerctl.md#nodes): JSON lines, the table, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.redis import RedisNodeRegistry, new_redis_client
from pyworker.domain import NodeInfo
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_ERROR
from tests.contract.conftest import closed_port
from tests.integration.workerctl_support import URL, Store, unique_store

pytestmark = pytest.mark.redis


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-nodes")


def beat(prefix: str, *nodes: NodeInfo) -> None:
    async def go() -> None:
        client = new_redis_client(URL)
        try:
            registry = RedisNodeRegistry(client, prefix)
            for node in nodes:
                await registry.heartbeat(node)
        finally:
            await client.aclose()

    asyncio.run(go())


def test_json_lines_and_the_table_show_each_live_node(store: Store) -> None:
    now = SystemClock().now()
    beat(store.prefix,
         NodeInfo("w-2", host="h2", pid=2, version="0.1.0", queues=("emails",), concurrency=4, running=3,
                  started_at=now - 90, last_seen=now, ttl=30),
         NodeInfo("w-1", host="h1", pid=1, version="0.1.0", concurrency=8, started_at=now, last_seen=now, ttl=30),
         NodeInfo("w-dead", last_seen=now - 31, ttl=30))  # fmt: skip

    outcome = store.cli("nodes", "--json")
    assert outcome.code == 0
    lines = outcome.json_lines()
    assert [(n["node_id"], n["host"], n["pid"], n["queues"], n["running"], n["concurrency"], n["ttl"])
            for n in lines] == [("w-1", "h1", 1, [], 0, 8, 30.0), ("w-2", "h2", 2, ["emails"], 3, 4, 30.0)]  # fmt: skip

    table = store.cli("nodes")
    assert table.code == 0
    assert table.lines[0] == "live nodes: 2"
    rows = [line for line in table.lines if "w-" in line]
    assert len(rows) == 2
    assert "all" in rows[0]
    assert "emails" in rows[1]
    assert "3/4" in rows[1]
    assert "1m30s" in rows[1]


def test_no_nodes_is_one_line(store: Store) -> None:
    assert (store.cli("nodes").code, store.cli("nodes").out) == (0, "live nodes: 0\n")
    assert store.cli("nodes", "--json").out == ""


def test_redis_down_is_exit_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    code = main(["durable", "nodes", "--redis-addr", f"127.0.0.1:{port}"])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    [line] = captured.err.splitlines()
    assert line.startswith(f"workerctl: durable backend unavailable: redis://127.0.0.1:{port}/0: ")
