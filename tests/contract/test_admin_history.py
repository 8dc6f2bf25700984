"""The HistoryStore contract (the admin page's samples) on memory, fakeredis and real Redis."""

from __future__ import annotations

import time

from pyworker.application.admin import HistoryStore, HistoryStoreProvider, Sample
from pyworker.domain import TaskStatus
from tests.contract.conftest import DurableEnv
from tests.contract.durable_support import make_task

NODE = "node-a"


def history(backend: object) -> HistoryStore:
    assert isinstance(backend, HistoryStoreProvider)
    return backend.admin_history()


def now(env: DurableEnv) -> float:
    """Results stream ids are the Redis server's clock; the memory backend's is its Clock."""
    return env.clock.now() if env.kind == "memory" else time.time()


async def test_a_bucket_keeps_its_first_sample_with_the_outcomes_settled_in_it(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    tasks = [make_task() for _ in range(4)]
    await env.queue.enqueue_many(tasks)
    leases = await env.queue.dequeue(4, 30.0)
    await env.queue.ack(leases[0])
    await env.queue.ack(leases[1])
    await env.queue.fail(leases[2], RuntimeError("boom"))
    await env.queue.fail(leases[3], "task cancelled", status=TaskStatus.CANCELLED)
    store = history(env.queue)
    at = round(now(env)) - 30.0  # the bucket [at, at + 60) holds every outcome above

    assert await store.add(Sample(at, ready=5, delayed=1, processing=2, dead=3), 60.0, 360) is True
    assert await store.add(Sample(at, ready=9, delayed=9, processing=9, dead=9), 60.0, 360) is False
    assert await history(await env.peer()).add(Sample(at, 7, 7, 7, 7), 60.0, 360) is False  # another admin

    assert await store.samples(at) == [Sample(at, 5, 1, 2, 3, completed=2, failed=1)]
    assert await history(await env.peer()).samples(at) == [Sample(at, 5, 1, 2, 3, completed=2, failed=1)]


async def test_a_bucket_without_outcomes_counts_none_and_the_oldest_buckets_go(env: DurableEnv) -> None:
    store = history(env.queue)
    for at in (0.0, 10.0, 20.0, 30.0, 40.0):
        assert await store.add(Sample(at, ready=int(at), delayed=0, processing=0, dead=0), 10.0, 3)
    assert [(s.at, s.ready, s.completed, s.failed) for s in await store.samples(0.0)] == [
        (20.0, 20, 0, 0), (30.0, 30, 0, 0), (40.0, 40, 0, 0),
    ]  # fmt: skip
    assert [s.at for s in await store.samples(30.0)] == [30.0, 40.0]
