"""The NodeRegistry contract (docs/nodes-section.md) on memory, fakeredis and real Redis
(tests/integration/test_redis_cluster.py runs it on a 3-node Redis Cluster too)."""

from __future__ import annotations

import weakref

import pytest

from pyworker.adapters.memory import InMemoryNodeRegistry
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, RedisNodeRegistry
from pyworker.application.ports import NodeRegistry
from pyworker.domain import NodeInfo
from tests.contract.conftest import DurableEnv

#: One in-memory registry per in-memory store (a weak key: a later test's store may reuse an id).
_MEMORY: weakref.WeakKeyDictionary[object, InMemoryNodeRegistry] = weakref.WeakKeyDictionary()


def registry(env: DurableEnv, queue: object | None = None) -> NodeRegistry:
    """The env's registry: for Redis one on the client of ``queue`` (default: the env's
    backend), for memory one shared registry per env (the store is one object)."""
    backend = queue if queue is not None else env.queue
    if isinstance(backend, RedisDurableBackend):
        return RedisNodeRegistry(backend.store.client, env.prefix, env.clock)
    return _MEMORY.setdefault(env.queue, InMemoryNodeRegistry(env.clock))


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
