"""The core `workerctl durable` commands on a real 3-node Redis Cluster (--cluster)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain import DurableTask
from pyworker.entrypoints.cli import main
from tests.support.redis_servers import HOST, RedisServer, redis_available, redis_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    if not redis_available():
        pytest.skip("redis-server / redis-cli not installed")
    with redis_cluster(tmp_path_factory.mktemp("wctl-cluster")) as nodes:
        yield nodes


def test_stats_retry_replay_and_snapshot_on_the_cluster(
    cluster_nodes: list[RedisServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prefix = f"wctl-cluster-{uuid.uuid4().hex}"
    url = f"redis://{HOST}:{cluster_nodes[1].port}/0"
    ids = [uuid.uuid4() for _ in range(3)]

    async def seed() -> None:
        client = RedisCluster(host=HOST, port=cluster_nodes[0].port)
        backend = RedisDurableBackend(client, prefix=prefix)
        try:
            for task_id in ids:
                await backend.enqueue(DurableTask("h", payload=b"\xff", id=task_id, queue="q"))
            for lease in await backend.dequeue(3, 60):
                await backend.fail(lease, "boom")
        finally:
            await backend.close()
            await client.aclose()

    asyncio.run(seed())

    def cli(*argv: str) -> list[str]:
        capsys.readouterr()
        code = main(["durable", *argv, "--cluster", "--redis-url", url, "--redis-prefix", prefix])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out.splitlines()

    assert json.loads(cli("stats", "--json")[0])["dead"] == 3
    assert cli("retry", "--id", str(ids[0]), "--apply") == ["requeued 1 task(s)"]
    assert cli("dlq", "replay", "--batch", "1", "--apply")[1] == "replayed 1 DLQ item(s)"
    snapshot = tmp_path / "snap.jsonl"
    cli("snapshot", "export", "--dlq", "--limit", "0", "--out", str(snapshot))
    assert cli("purge", "--ready", "--dlq", "--apply") == [
        "purged ready queue=default removed=0", "purged ready queue=q removed=2", "purged dlq removed=1",
    ]
    assert cli("snapshot", "import", "--in", str(snapshot), "--apply") == ["imported 3 snapshot item(s)"]
    restored = json.loads(cli("get", "--id", str(ids[2]))[0])
    assert (restored["status"], restored["queue"]) == ("dead", "q")
    assert cli("pause", "--apply") == ["durable dequeue paused"]
    assert cli("paused") == ["paused=true"]
