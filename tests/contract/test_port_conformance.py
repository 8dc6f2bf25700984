"""Every durable adapter is assigned to each port it implements, so mypy checks conformance;
the runtime-checkable Protocols check the method names too.
"""

from __future__ import annotations

import fakeredis

from pyworker.adapters.memory import InMemoryDurableBackend, InMemoryScheduleStore
from pyworker.adapters.redis import (
    RedisDurableBackend,
    RedisDurableInspector,
    RedisDurableQueue,
    RedisDurableStore,
)
from pyworker.adapters.redis.schedules import RedisScheduleStore
from pyworker.application.admin import (
    AdminStoreProvider,
    AuditLog,
    HistoryStore,
    HistoryStoreProvider,
    QueueWeightStore,
)
from pyworker.application.ports import DurableBackend, DurableInspector, DurableQueue
from pyworker.application.schedules import ScheduleStore, ScheduleStoreProvider


async def test_in_memory_backend_implements_both_ports() -> None:
    memory = InMemoryDurableBackend()
    queue: DurableQueue = memory
    inspector: DurableInspector = memory
    backend: DurableBackend = memory
    assert isinstance(queue, DurableQueue)
    assert isinstance(inspector, DurableInspector)
    assert isinstance(backend, DurableBackend)
    await memory.close()


async def test_redis_halves_implement_their_port_over_one_store() -> None:
    client = fakeredis.aioredis.FakeRedis()
    store = RedisDurableStore(client, prefix="conformance")
    redis_queue = RedisDurableQueue(store)
    queue: DurableQueue = redis_queue
    inspector: DurableInspector = RedisDurableInspector(store)
    assert isinstance(queue, DurableQueue)
    assert isinstance(inspector, DurableInspector)
    assert not isinstance(inspector, DurableQueue)  # an operator's object cannot lease
    await redis_queue.close()
    await client.aclose()


async def test_redis_backend_implements_both_ports() -> None:
    client = fakeredis.aioredis.FakeRedis()
    redis_backend = RedisDurableBackend(client, prefix="conformance")
    queue: DurableQueue = redis_backend
    inspector: DurableInspector = redis_backend
    backend: DurableBackend = redis_backend
    assert isinstance(queue, DurableQueue)
    assert isinstance(inspector, DurableInspector)
    assert isinstance(backend, DurableBackend)
    assert redis_backend.store.client is client
    await redis_backend.close()
    await client.aclose()


async def test_both_backends_provide_one_schedule_store_each() -> None:
    memory = InMemoryDurableBackend()
    client = fakeredis.aioredis.FakeRedis()
    redis_backend = RedisDurableBackend(client, prefix="conformance")
    providers: list[ScheduleStoreProvider] = [memory, redis_backend]
    memory_store: ScheduleStore = memory.schedule_store()
    redis_store: ScheduleStore = redis_backend.schedule_store()
    assert all(isinstance(p, ScheduleStoreProvider) for p in providers)
    assert isinstance(memory_store, InMemoryScheduleStore)
    assert isinstance(redis_store, RedisScheduleStore)
    assert all(isinstance(s, ScheduleStore) for s in (memory_store, redis_store))
    # One store per backend: every manager on a backend shares its schedules' state.
    assert memory.schedule_store() is memory_store
    assert redis_backend.schedule_store() is redis_store
    await memory.close()
    await redis_backend.close()
    await client.aclose()


async def test_both_backends_provide_the_admin_ports() -> None:
    memory = InMemoryDurableBackend()
    client = fakeredis.aioredis.FakeRedis()
    redis_backend = RedisDurableBackend(client, prefix="conformance")
    for provider in (memory, redis_backend):
        assert isinstance(provider, AdminStoreProvider)
        assert isinstance(provider, HistoryStoreProvider)
        history: HistoryStore = provider.admin_history()
        assert isinstance(history, HistoryStore)
    memory_weights: QueueWeightStore = memory.queue_weights()
    memory_audit: AuditLog = memory.audit_log()
    redis_weights: QueueWeightStore = redis_backend.queue_weights()
    redis_audit: AuditLog = redis_backend.audit_log()
    for port, kind in ((memory_weights, QueueWeightStore), (redis_weights, QueueWeightStore),
                       (memory_audit, AuditLog), (redis_audit, AuditLog)):  # fmt: skip
        assert isinstance(port, kind)
    await memory.close()
    await redis_backend.close()
    await client.aclose()
