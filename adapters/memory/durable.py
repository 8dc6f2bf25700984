"""InMemoryDurableBackend: the embedded durable task store, one event loop, no I/O."""

from __future__ import annotations

from pyworker.adapters.memory.admin import InMemoryAdminHistory, InMemoryAuditLog, InMemoryQueueWeights
from pyworker.adapters.memory.inspector import MemoryInspectorSide
from pyworker.adapters.memory.nodes import InMemoryNodeRegistry
from pyworker.adapters.memory.queue import MemoryQueueSide
from pyworker.adapters.memory.results import InMemoryDurableResults
from pyworker.adapters.memory.schedules import InMemoryScheduleStore


class InMemoryDurableBackend(MemoryQueueSide, MemoryInspectorSide):
    """Both durable ports (DurableQueue and DurableInspector) held in this process's
    memory: the embedded default.

    Same semantics as ``RedisDurableBackend`` (the contract suite runs both):
    exact order within a queue, weighted round robin between queues, fenced
    leases, delayed tasks, a DLQ and idempotency keys. Times come from the
    injected Clock, compared in whole milliseconds. Not thread-safe: use it from
    one event loop. Nothing survives the process.

    ``global_rate_limit`` (rate tokens/s, burst) and ``queue_concurrency`` (queue ->
    the most tasks leased at once) are the Redis backend's cluster-wide limits, here
    for the nodes of this one process (docs/cluster.md#limits).

    Raises:
        ConfigurationError: a limit out of range (``domain.limits.DurableLimits``).

    The state and shared steps are in store.py, the worker side in queue.py, the
    operator side in inspector.py; this class adds the stores that live beside the tasks.
    """

    def schedule_store(self) -> InMemoryScheduleStore:
        """Durable schedules next to these tasks (one per backend; adapters/memory/schedules.py)."""
        if self._schedule_store is None:
            self._schedule_store = InMemoryScheduleStore(self, self._clock)
        return self._schedule_store

    def node_registry(self) -> InMemoryNodeRegistry:
        """The live worker nodes sharing this backend (one per backend; adapters/memory/nodes.py)."""
        if self._node_registry is None:
            self._node_registry = InMemoryNodeRegistry(self._clock)
        return self._node_registry

    def queue_weights(self) -> InMemoryQueueWeights:
        """Weights the admin plane stores; this backend's dequeue uses them (adapters/memory/admin.py)."""
        if self._queue_weights is None:
            self._queue_weights = InMemoryQueueWeights(self._use_stored_weights)
        return self._queue_weights

    def audit_log(self) -> InMemoryAuditLog:
        """The admin plane's audit log next to these tasks (one per backend)."""
        if self._audit_log is None:
            self._audit_log = InMemoryAuditLog(clock=self._clock)
        return self._audit_log

    def admin_history(self) -> InMemoryAdminHistory:
        """The admin page's depth and throughput samples next to these tasks (one per backend)."""
        if self._history is None:
            self._history = InMemoryAdminHistory(self._results.settled_between)
        return self._history

    def _use_stored_weights(self, queue: str, stored: dict[str, int]) -> None:
        self._stored_weights = stored
        self._rr.weights = {**self._configured_weights, **stored}
        if queue not in self._known:
            self._known.add(queue)
            self._rr.add(queue)

    def results(self) -> InMemoryDurableResults:
        """The outcomes of the tasks settled here, kept for the TTL (adapters/memory/results.py)."""
        return self._results

