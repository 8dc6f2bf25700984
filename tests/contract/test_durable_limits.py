"""The cluster-wide limits contract (docs/cluster.md#limits): a global token bucket and per-queue caps."""

from __future__ import annotations

import asyncio
import logging

import fakeredis
import pytest

from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.adapters.redis import RedisDurableBackend, RedisLimitStore
from pyworker.application.ports import DurableQueue
from pyworker.domain import ConfigurationError, DurableLimits

from .conftest import DurableEnv
from .durable_support import PROMPTLY, dequeue_all, make_task


async def enqueue_each(queue: DurableQueue, count: int, name: str = "default") -> None:
    """``count`` tasks, one call each, every enqueue's wake-up taken (a wait that returns at once)."""
    for _ in range(count):
        await queue.enqueue(make_task(queue=name))
        await asyncio.wait_for(queue.wait_for_work(60.0), PROMPTLY)


async def test_a_bucket_grants_its_burst_then_refills_by_time(env: DurableEnv) -> None:
    node = await env.limited(global_rate_limit=(10, 3))
    await node.enqueue_many([make_task() for _ in range(10)])

    assert len(await dequeue_all(node)) == 3  # the burst
    assert await dequeue_all(node) == []
    env.clock.advance(0.1)
    assert len(await dequeue_all(node)) == 1  # 10/s: one token per 100 ms
    env.clock.advance(0.25)
    assert len(await dequeue_all(node)) == 2  # 2.5 tokens: two whole ones, half a token left
    env.clock.advance(0.05)
    assert len(await dequeue_all(node)) == 1  # the half plus 0.5
    env.clock.advance(60.0)
    assert len(await dequeue_all(node)) == 3  # never more than the burst, however long it rested


async def test_empty_dequeues_take_no_tokens(env: DurableEnv) -> None:
    node = await env.limited(global_rate_limit=(1, 2))
    for _ in range(5):
        assert await dequeue_all(node) == []  # idle polls: the bucket stays full
    await node.enqueue_many([make_task() for _ in range(3)])

    assert len(await dequeue_all(node)) == 2


async def test_a_dequeue_the_bucket_cut_short_says_when_the_next_token_comes(env: DurableEnv) -> None:
    node = await env.limited(global_rate_limit=(4, 1))
    await enqueue_each(node, 1)
    assert len(await node.dequeue(2, 30.0)) == 1  # asked 2, the bucket had 1

    waiter = asyncio.ensure_future(node.wait_for_work(60.0))
    await asyncio.sleep(0)
    env.clock.advance(0.25)  # the next token (Redis waits 0.25 s of real time; memory waits on the clock)
    await asyncio.wait_for(waiter, PROMPTLY)  # not the lease's 30 s


async def test_a_capped_queue_never_has_more_leased_and_other_queues_are_served(env: DurableEnv) -> None:
    node = await env.limited(queue_concurrency={"capped": 2})
    await node.enqueue_many([make_task(queue="capped") for _ in range(5)])
    await node.enqueue_many([make_task(queue="free") for _ in range(3)])

    first = await dequeue_all(node)
    assert sorted(lease.task.queue for lease in first) == ["capped", "capped", "free", "free", "free"]
    assert await dequeue_all(node) == []

    await node.ack(next(lease for lease in first if lease.task.queue == "capped"))
    [again] = await dequeue_all(node)  # the ack freed one slot
    assert again.task.queue == "capped"
    assert await dequeue_all(node) == []


async def test_an_expired_lease_of_a_capped_queue_gives_its_slot_back(env: DurableEnv) -> None:
    node = await env.limited(queue_concurrency={"default": 1})
    await node.enqueue_many([make_task() for _ in range(2)])
    [lease] = await node.dequeue(5, 1.0)
    assert await node.dequeue(5, 1.0) == []

    env.clock.advance(1.0)
    [again] = await node.dequeue(5, 30.0)  # the expired lease was reclaimed: one leased again
    assert again.token != lease.token
    assert await node.dequeue(5, 30.0) == []


async def test_an_ack_that_frees_a_slot_of_a_capped_queue_wakes_an_idle_node(env: DurableEnv) -> None:
    node = await env.limited(queue_concurrency={"default": 1})
    await enqueue_each(node, 2)
    [lease] = await dequeue_all(node)
    assert await dequeue_all(node) == []

    waiter = asyncio.ensure_future(node.wait_for_work(60.0))
    await asyncio.sleep(0)
    await node.ack(lease)
    await asyncio.wait_for(waiter, PROMPTLY)  # woken at once, not at the lease's expiry
    assert len(await dequeue_all(node)) == 1


async def test_a_fail_that_frees_a_slot_of_a_capped_queue_wakes_an_idle_node(env: DurableEnv) -> None:
    node = await env.limited(queue_concurrency={"default": 1})
    await enqueue_each(node, 2)
    [lease] = await dequeue_all(node)

    waiter = asyncio.ensure_future(node.wait_for_work(60.0))
    await asyncio.sleep(0)
    await node.fail(lease, "boom")
    await asyncio.wait_for(waiter, PROMPTLY)
    assert len(await dequeue_all(node)) == 1


async def test_a_node_without_limits_obeys_the_stored_ones(env: DurableEnv) -> None:
    if env.kind == "memory":
        pytest.skip("one process: every node is the one store object")
    node = await env.limited(global_rate_limit=(1, 3), queue_concurrency={"capped": 1})
    await node.enqueue_many([make_task(queue="capped") for _ in range(3)] + [make_task() for _ in range(5)])
    plain = await env.peer()  # configured with no limits at all

    leases = await dequeue_all(plain)
    assert sorted(lease.task.queue for lease in leases) == ["capped", "default", "default"]
    assert await dequeue_all(node) == []  # the bucket is shared: the other node's three were its burst


async def test_a_node_configuring_one_part_leaves_the_other_stored(env: DurableEnv) -> None:
    if env.kind == "memory":
        pytest.skip("one process: limits are the backend's own")
    await env.limited(global_rate_limit=(1, 1), queue_concurrency={"capped": 1})
    node = await env.limited(queue_concurrency={"capped": 2})  # the rate part left as stored
    assert isinstance(node, RedisDurableBackend)
    await node.enqueue_many([make_task(queue="capped") for _ in range(3)])

    assert len(await dequeue_all(node)) == 1  # the stored burst of 1, not the cap of 2


@pytest.mark.parametrize(
    ("rate_limit", "caps", "message"),
    [
        ((0, 5), None, "the rate must be > 0"),
        ((-1.5, 5), None, "the rate must be > 0"),
        ((10, 0), None, "the burst must be a whole number >= 1"),
        ((10, 2.5), None, "the burst must be a whole number >= 1"),
        (None, {"q": 0}, "must be a whole number >= 1"),
        (None, {" ": 3}, "is not a queue name"),
        (None, {"a b": 3}, "is not a queue name"),
    ],
)
def test_limits_out_of_range_are_configuration_errors(
    rate_limit: tuple[float, int] | None, caps: dict[str, int] | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        InMemoryDurableBackend(global_rate_limit=rate_limit, queue_concurrency=caps)
    with pytest.raises(ConfigurationError, match=message):
        RedisDurableBackend(fakeredis.aioredis.FakeRedis(), global_rate_limit=rate_limit, queue_concurrency=caps)


async def test_the_stored_limits_are_read_changed_with_a_warning_and_cleared(
    env: DurableEnv, caplog: pytest.LogCaptureFixture
) -> None:
    if env.kind == "memory":
        pytest.skip("one process: limits are the backend's own")
    node = await env.limited(global_rate_limit=(5, 2), queue_concurrency={"a": 1, "b": 2})
    assert isinstance(node, RedisDurableBackend)
    store = RedisLimitStore(node.store)
    assert await store.read() == DurableLimits((5, 2), {"a": 1, "b": 2})

    with caplog.at_level(logging.WARNING, logger="pyworker.durable"):
        await env.limited(queue_concurrency={"a": 4})  # the caps replaced as a whole; the rate left
    assert await store.read() == DurableLimits((5, 2), {"a": 4})
    [warning] = [r.getMessage() for r in caplog.records if "durable limits" in r.getMessage()]
    assert "were global rate 5/s burst 2, queue a at most 1, queue b at most 2" in warning
    assert "now global rate 5/s burst 2, queue a at most 4" in warning

    await store.write(DurableLimits())  # both parts cleared: no limit for anyone
    assert (await store.read()).empty
    await node.enqueue_many([make_task(queue="a") for _ in range(6)])
    assert len(await dequeue_all(node)) == 6
