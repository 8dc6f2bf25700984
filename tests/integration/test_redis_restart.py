"""RedisDurableBackend across a Redis restart: AOF keeps every task, the same backend reconnects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain.durable import DurableTask
from pyworker.domain.errors import BackendUnavailableError
from tests.support.redis_servers import HOST, RedisServer, redis_available, start_redis_server

pytestmark = pytest.mark.slow


@pytest.fixture
def aof_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not redis_available():
        pytest.skip("redis-server not installed")
    server = start_redis_server(tmp_path / "redis", appendonly=True, appendfsync="always")
    try:
        yield server
    finally:
        server.stop()


def make_task(**fields: object) -> DurableTask:
    return DurableTask(handler="report", payload=b"data", id=uuid.uuid4(), **fields)  # type: ignore[arg-type]


async def test_tasks_survive_a_restart_and_the_backend_reconnects(aof_server: RedisServer) -> None:
    # No client retries: the outage must surface as BackendUnavailableError, not be waited out.
    client = redis.asyncio.Redis(host=HOST, port=aof_server.port, retry=Retry(NoBackoff(), 0))
    clock = ManualClock()
    backend = RedisDurableBackend(client, prefix="restart", clock=clock)
    try:
        waiting = [make_task(priority=i) for i in range(5)]
        delayed = make_task(run_at=clock.now() + 60)
        assert await backend.enqueue_many(waiting) == [t.id for t in waiting]
        await backend.enqueue(delayed)
        leased = make_task(priority=-1)
        await backend.enqueue(leased)
        [lease] = await backend.dequeue(1, 30.0)
        assert lease.task_id == leased.id

        aof_server.stop()
        with pytest.raises(BackendUnavailableError):
            await backend.enqueue(make_task())
        with pytest.raises(BackendUnavailableError):
            await backend.dequeue(1, 30.0)

        aof_server.start()  # same port, same directory: Redis replays its AOF
        stats = await backend.stats()
        assert (stats.total_ready, stats.total_delayed, stats.total_processing) == (5, 1, 1)
        await backend.ack(lease)  # the lease (and its token) survived too
        leases = await backend.dequeue(10, 30.0)
        assert [x.task_id for x in leases] == [t.id for t in waiting]
        assert await backend.ack_many(leases) == [None] * 5
        clock.advance(60)
        [late] = await backend.dequeue(10, 30.0)
        assert late.task_id == delayed.id
    finally:
        await backend.close()
        await client.aclose()
