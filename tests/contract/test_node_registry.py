"""The NodeRegistry contract (docs/cluster.md#nodes) on memory, fakeredis and real Redis
(tests/integration/test_redis_cluster.py runs it on a 3-node Redis Cluster too)."""

from __future__ import annotations

import fakeredis
import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend, InMemoryNodeRegistry
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, RedisNodeRegistry
from pyworker.application.ports import NodeRegistry, NodeRegistryProvider
from pyworker.domain import NodeInfo
from tests.contract.conftest import DurableEnv


def registry(env: DurableEnv, queue: object | None = None) -> NodeRegistry:
    """The registry of ``queue``'s backend (default: the env's backend; memory: one shared object)."""
    backend = queue if queue is not None else env.queue
    assert isinstance(backend, NodeRegistryProvider)
    return backend.node_registry()


def node(env: DurableEnv, node_id: str, **fields: object) -> NodeInfo:
    now = env.clock.now()
    values: dict[str, object] = {
        "host": "h1", "pid": 42, "version": "0.1.0", "concurrency": 8, "started_at": now - 60, "last_seen": now,
        "ttl": 15.0,
    }  # fmt: skip
    values.update(fields)
    return NodeInfo(node_id, **values)  # type: ignore[arg-type]


async def test_a_heartbeat_is_listed_exactly_and_replaced_by_the_next(env: DurableEnv) -> None:
    nodes = registry(env)
    first = node(env, "n1", queues=("emails", "reports"), running=3)
    await nodes.heartbeat(first)
    assert await nodes.list_nodes() == [first]
    env.clock.advance(5)
    second = node(env, "n1", queues=(), running=0)
    await nodes.heartbeat(second)
    assert await nodes.list_nodes() == [second]


async def test_nodes_are_seen_by_every_client_of_the_store_sorted_by_id(env: DurableEnv) -> None:
    here, there = registry(env), registry(env, await env.peer())
    await here.heartbeat(node(env, "b"))
    await there.heartbeat(node(env, "a"))
    assert [n.node_id for n in await here.list_nodes()] == ["a", "b"]
    assert [n.node_id for n in await there.list_nodes()] == ["a", "b"]


async def test_a_node_disappears_when_its_ttl_passes_without_a_beat(env: DurableEnv) -> None:
    nodes = registry(env)
    await nodes.heartbeat(node(env, "short", ttl=3.0))
    await nodes.heartbeat(node(env, "long", ttl=30.0))
    env.clock.advance(2.999)
    assert [n.node_id for n in await nodes.list_nodes()] == ["long", "short"]
    env.clock.advance(0.001)
    assert [n.node_id for n in await nodes.list_nodes()] == ["long"]
    if isinstance(nodes, RedisNodeRegistry):  # the dead entry was pruned, record and index
        keys = RedisKeys(env.prefix)
        assert await nodes.client.exists(keys.node("short")) == 0
        assert await nodes.client.zscore(keys.nodes, "short") is None


async def test_remove_forgets_a_node_at_once_and_ignores_unknown_ids(env: DurableEnv) -> None:
    nodes = registry(env)
    await nodes.heartbeat(node(env, "n1"))
    await nodes.heartbeat(node(env, "n2"))
    await nodes.remove("n1")
    await nodes.remove("never-seen")
    assert [n.node_id for n in await nodes.list_nodes()] == ["n2"]


async def test_listing_pages_through_many_nodes(env: DurableEnv) -> None:
    nodes = registry(env)
    ids = [f"node-{i:04d}" for i in range(450)]
    for node_id in ids:
        await nodes.heartbeat(node(env, node_id))
    assert [n.node_id for n in await nodes.list_nodes()] == ids


async def test_a_redis_record_expires_on_its_own(env: DurableEnv) -> None:
    nodes = registry(env)
    if not isinstance(nodes, RedisNodeRegistry):
        pytest.skip("a Redis key's own expiry")
    await nodes.heartbeat(node(env, "n1", ttl=15.0))
    ttl = await nodes.client.pttl(RedisKeys(env.prefix).node("n1"))  # PEXPIRE: gone even if nobody lists
    assert 0 < ttl <= 15_000


async def test_both_backends_provide_one_node_registry_each() -> None:
    clock = ManualClock()
    memory = InMemoryDurableBackend(clock=clock)
    redis_backend = RedisDurableBackend(fakeredis.aioredis.FakeRedis(), prefix="conformance", clock=clock)
    memory_registry: NodeRegistry = memory.node_registry()
    redis_registry: NodeRegistry = redis_backend.node_registry()
    assert isinstance(memory_registry, InMemoryNodeRegistry)
    assert isinstance(redis_registry, RedisNodeRegistry)
    assert memory.node_registry() is memory_registry
    assert redis_backend.node_registry() is redis_registry
    assert redis_registry.keys.prefix == redis_backend.store.keys.prefix
    assert isinstance(memory_registry, NodeRegistry)
    await memory.close()
    await redis_backend.close()
