"""RedisDurableBackend: both durable ports on Redis (standalone or Cluster), over one shared store."""

from __future__ import annotations

from collections.abc import Mapping

from pyworker.adapters.redis.admin import RedisAuditLog, RedisQueueWeights
from pyworker.adapters.redis.client import RedisClient
from pyworker.adapters.redis.history import RedisAdminHistory
from pyworker.adapters.redis.inspector import RedisDurableInspector
from pyworker.adapters.redis.nodes import RedisNodeRegistry
from pyworker.adapters.redis.queue import RedisDurableQueue
from pyworker.adapters.redis.results import RedisDurableResults
from pyworker.adapters.redis.schedules import RedisScheduleStore
from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.application.ports import Clock
from pyworker.domain.durable import DEFAULT_IDEMPOTENCY_TTL
from pyworker.domain.scheduling import DEFAULT_QUEUE


class RedisDurableBackend(RedisDurableQueue, RedisDurableInspector):
    """DurableQueue and DurableInspector on one ``RedisDurableStore`` (one client, key
    table and script registry): what a process that both works and inspects uses.

    A process that only inspects builds ``RedisDurableInspector(RedisDurableStore(client,
    prefix))``; one that only works, ``RedisDurableQueue(store, ...)``. The backend
    receives its client (``adapters/redis/client.py`` builds one from a URL) and
    does not close it unless ``close_client`` is set. Arguments as in
    RedisDurableStore and RedisDurableQueue (``global_rate_limit`` and
    ``queue_concurrency``: the cluster-wide limits, docs/cluster.md#limits).
    """

    def __init__(
        self,
        client: RedisClient,
        prefix: str = "pyworker",
        clock: Clock | None = None,
        default_queue: str = DEFAULT_QUEUE,
        queue_weights: Mapping[str, int] | None = None,
        scan_window: int = 1000,
        *,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
        enqueue_chunk: int = 1000,
        fallback_poll: float = 0.5,
        close_client: bool = False,
        global_rate_limit: tuple[float, int] | None = None,
        queue_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        store = RedisDurableStore(client, prefix, clock, default_queue)
        RedisDurableQueue.__init__(
            self,
            store,
            queue_weights,
            scan_window=scan_window,
            idempotency_ttl=idempotency_ttl,
            enqueue_chunk=enqueue_chunk,
            fallback_poll=fallback_poll,
            close_client=close_client,
            global_rate_limit=global_rate_limit,
            queue_concurrency=queue_concurrency,
        )
        RedisDurableInspector.__init__(self, store)
        self._schedule_store: RedisScheduleStore | None = None
        self._node_registry: RedisNodeRegistry | None = None
        self._queue_weights: RedisQueueWeights | None = None
        self._audit_log: RedisAuditLog | None = None
        self._history: RedisAdminHistory | None = None
        self._results: RedisDurableResults | None = None

    def schedule_store(self) -> RedisScheduleStore:
        """Durable schedules on this backend's Redis (one per backend; adapters/redis/schedules.py)."""
        if self._schedule_store is None:
            self._schedule_store = RedisScheduleStore(self.store)
        return self._schedule_store

    def node_registry(self) -> RedisNodeRegistry:
        """The live worker nodes on this backend's Redis and prefix (one per backend; adapters/redis/nodes.py)."""
        if self._node_registry is None:
            self._node_registry = RedisNodeRegistry(self.store.client, self.store.keys.prefix, self.store.clock)
        return self._node_registry

    def queue_weights(self) -> RedisQueueWeights:
        """Dequeue weights the admin plane stores, read by every node's dequeue (adapters/redis/admin.py)."""
        if self._queue_weights is None:
            self._queue_weights = RedisQueueWeights(self.store)
        return self._queue_weights

    def audit_log(self) -> RedisAuditLog:
        """The admin plane's audit log on this backend's Redis and prefix (adapters/redis/admin.py)."""
        if self._audit_log is None:
            self._audit_log = RedisAuditLog(self.store)
        return self._audit_log
    def admin_history(self) -> RedisAdminHistory:
        """The admin page's depth and throughput samples on this backend's Redis (adapters/redis/history.py)."""
        if self._history is None:
            self._history = RedisAdminHistory(self.store)
        return self._history

    def results(self) -> RedisDurableResults:
        """The outcomes recorded on this backend's Redis and prefix (one reader per backend;
        adapters/redis/results.py). ``close()`` closes it.
        """
        if self._results is None:
            self._results = RedisDurableResults(self.store)
        return self._results

    async def close(self) -> None:
        if self._results is not None:
            await self._results.close()
        await super().close()
