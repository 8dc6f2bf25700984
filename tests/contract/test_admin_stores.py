"""The admin ports' contract (QueueWeightStore, AuditLog) on memory, fakeredis and real Redis."""

from __future__ import annotations

import uuid

from pyworker.adapters.memory.admin import InMemoryAuditLog
from pyworker.adapters.redis import RedisDurableBackend
from pyworker.adapters.redis.admin import RedisAuditLog
from pyworker.application.admin import AdminStoreProvider, AuditLog, QueueWeightStore
from pyworker.domain.admin import AuditEvent
from tests.contract.conftest import DurableEnv
from tests.contract.durable_support import make_task


def provider(env: DurableEnv, backend: object | None = None) -> AdminStoreProvider:
    found = backend if backend is not None else env.queue
    assert isinstance(found, AdminStoreProvider)
    return found


def weights(env: DurableEnv) -> QueueWeightStore:
    return provider(env).queue_weights()


def audit(env: DurableEnv) -> AuditLog:
    return provider(env).audit_log()


def event(env: DurableEnv, action: str = "queue.pause", target: str = "emails", **fields: object) -> AuditEvent:
    values: dict[str, object] = {
        "at": env.clock.now(), "actor": "ops", "request_id": uuid.uuid4().hex, "action": action, "target": target,
        "status": "ok", "payload_hash": "ab" * 32, "detail": "ok",
    }  # fmt: skip
    values.update(fields)
    return AuditEvent(**values)  # type: ignore[arg-type]


async def test_a_stored_weight_is_read_back_and_the_queue_becomes_known(env: DurableEnv) -> None:
    store = weights(env)
    await store.set_weight("reports", 5)
    assert await store.weights() == {"reports": 5}
    assert "reports" in {q.queue for q in (await env.inspector.stats()).queues}
    assert await store.reset_weight("reports") is True
    assert await store.reset_weight("reports") is False
    assert await store.weights() == {}


async def test_stored_weights_are_seen_by_every_client_of_the_store(env: DurableEnv) -> None:
    await weights(env).set_weight("a", 3)
    other = provider(env, await env.peer()).queue_weights()
    assert await other.weights() == {"a": 3}


async def test_dequeue_uses_a_stored_weight_over_the_configured_one(env: DurableEnv) -> None:
    await env.queue.configure_queues("default", {"a": 1, "b": 1})
    await weights(env).set_weight("a", 2)
    for queue in ("b", "a"):
        for _ in range(3):
            await env.queue.enqueue(make_task(queue=queue))

    leases = await env.queue.dequeue(6, 30.0)

    assert [lease.task.queue for lease in leases] == ["a", "a", "b", "a", "b", "b"]


async def test_a_reset_weight_gives_the_configured_weight_back(env: DurableEnv) -> None:
    await env.queue.configure_queues("default", {"a": 1, "b": 1})
    await weights(env).set_weight("a", 3)
    await weights(env).reset_weight("a")
    for queue in ("b", "a"):
        for _ in range(2):
            await env.queue.enqueue(make_task(queue=queue))

    leases = await env.queue.dequeue(4, 30.0)

    assert [lease.task.queue for lease in leases] == ["a", "b", "a", "b"]


async def test_audit_events_come_back_newest_first_exactly(env: DurableEnv) -> None:
    log = audit(env)
    first = event(env, metadata={"code": "not_found"}, status="error", detail="admin queue not found: x")
    env.clock.advance(1.5)
    second = event(env, action="dlq.replay", target="*")
    await log.record(first)
    await log.record(second)
    assert await log.events() == [second, first]


async def test_audit_filters_match_action_and_target_exactly_and_stop_at_the_limit(env: DurableEnv) -> None:
    log = audit(env)
    for i in range(5):
        await log.record(event(env, action="queue.pause", target=f"q{i % 2}", request_id=str(i)))
    await log.record(event(env, action="dlq.replay", target="*", request_id="r"))

    assert [e.request_id for e in await log.events(action="queue.pause", target="q0")] == ["4", "2", "0"]
    assert [e.request_id for e in await log.events(action="queue.pause", limit=2)] == ["4", "3"]
    assert [e.request_id for e in await log.events(target="*")] == ["r"]
    assert await log.events(action="queue.pau") == []


async def test_the_audit_log_is_shared_by_every_client_of_the_store(env: DurableEnv) -> None:
    await audit(env).record(event(env))
    other = provider(env, await env.peer()).audit_log()
    assert [e.action for e in await other.events()] == ["queue.pause"]


def bounded(env: DurableEnv, capacity: int, retention: float | None = None) -> AuditLog:
    """A log of this env's kind with a small capacity (and a retention)."""
    if env.kind == "memory":
        return InMemoryAuditLog(capacity, retention, clock=env.clock)
    assert isinstance(env.queue, RedisDurableBackend)
    return RedisAuditLog(env.queue.store, capacity, retention)


async def test_the_audit_log_keeps_only_its_capacity(env: DurableEnv) -> None:
    log = bounded(env, 3)
    for i in range(5):
        await log.record(event(env, request_id=str(i)))
    assert [e.request_id for e in await log.events(limit=10)] == ["4", "3", "2"]


async def test_events_older_than_the_retention_are_not_returned(env: DurableEnv) -> None:
    log = bounded(env, 100, retention=60)
    await log.record(event(env, request_id="old"))
    env.clock.advance(30)
    await log.record(event(env, request_id="new"))
    env.clock.advance(31)
    assert [e.request_id for e in await log.events()] == ["new"]
