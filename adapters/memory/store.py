"""The in-memory durable store's state and the steps every side of it shares (adapters/memory/durable.py)."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import uuid
from collections.abc import Callable, Mapping

import attrs

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.memory.admin import InMemoryAdminHistory, InMemoryAuditLog, InMemoryQueueWeights
from pyworker.adapters.memory.nodes import InMemoryNodeRegistry
from pyworker.adapters.memory.results import InMemoryDurableResults
from pyworker.adapters.memory.schedules import InMemoryScheduleStore
from pyworker.application.ports import Clock
from pyworker.domain import DurableOutcome
from pyworker.domain.durable import (
    DEFAULT_IDEMPOTENCY_TTL,
    DurableLease,
    DurableState,
    DurableTask,
    DurableTaskRecord,
    ready_at_ms,
    storable_task,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import (
    DurableCancelRequestedError,
    DurableLeaseNotFoundError,
    DurableTaskExistsError,
)
from pyworker.domain.limits import DurableLimits, TokenBucket
from pyworker.domain.scheduling import (
    DEFAULT_QUEUE,
    WeightedRoundRobin,
    normalize_queue,
    normalize_queue_weights,
)
from pyworker.domain.settled import (
    cancel_text,
)
from pyworker.domain.status import TaskStatus


@attrs.define(eq=False)
class _Entry:
    task: DurableTask
    seq: int
    state: DurableState
    ready_at_ms: int
    updated_at_ms: int
    attempts: int = 0
    token: str = ""
    lease_ms: int = 0
    last_error: str = ""
    failed_at_ms: int | None = None
    cancel_requested: str = ""  # set while leased by cancel(): docs/cluster.md#cancellation
    cancelled_at_ms: int | None = None


class MemoryStore:
    """The tasks, their queues and heaps, the DLQ, idempotency keys, limits and outcomes of one
    InMemoryDurableBackend, and the internal steps both its sides (queue.py, inspector.py) use."""

    def __init__(
        self,
        clock: Clock | None = None,
        default_queue: str = DEFAULT_QUEUE,
        queue_weights: Mapping[str, int] | None = None,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
        *,
        global_rate_limit: tuple[float, int] | None = None,
        queue_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        self.limits = DurableLimits(global_rate_limit, queue_concurrency)
        self._bucket: TokenBucket | None = None
        self._limit_due_ms: int | None = None  # when a limit that stopped a dequeue lets more through
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._default_queue = normalize_queue(default_queue)
        self._configured_weights = normalize_queue_weights(queue_weights)
        self._stored_weights: dict[str, int] = {}  # the admin plane's, over the configured ones
        self._rr = WeightedRoundRobin(dict(self._configured_weights))
        self._rr.add(self._default_queue)
        self._only: set[str] | None = None  # queues this node serves; None: all
        self._known: set[str] = set()
        self._idempotency_ttl_ms = to_ms(idempotency_ttl)
        self._seq = itertools.count()
        self._tasks: dict[uuid.UUID, _Entry] = {}
        # Heaps hold (sort key..., id); entries are validated against _tasks when popped,
        # so a stale heap row (task moved on) is skipped rather than searched for and removed.
        self._ready: dict[str, list[tuple[int, int, int, uuid.UUID]]] = collections.defaultdict(list)
        self._delayed: dict[str, list[tuple[int, str, uuid.UUID]]] = collections.defaultdict(list)
        self._expiries: dict[str, list[tuple[int, str, uuid.UUID]]] = collections.defaultdict(list)
        self._processing: dict[str, set[uuid.UUID]] = collections.defaultdict(set)
        self._dead: collections.deque[uuid.UUID] = collections.deque()
        self._idem: dict[str, uuid.UUID] = {}
        self._idem_expiry: dict[str, int] = {}
        self._paused = False
        self._paused_queues: set[str] = set()
        self._waiters: set[asyncio.Future[None]] = set()
        self._signalled = False
        self._schedule_store: InMemoryScheduleStore | None = None
        self._node_registry: InMemoryNodeRegistry | None = None
        self._queue_weights: InMemoryQueueWeights | None = None
        self._audit_log: InMemoryAuditLog | None = None
        self._cancel_callbacks: list[Callable[[uuid.UUID, str], None]] = []
        self._results = InMemoryDurableResults(self._clock)
        self._history: InMemoryAdminHistory | None = None


    # -- moves shared by cancel and the operator moves ---------------------------------------

    def _detach(self, entry: _Entry) -> None:
        """Out of wherever the entry waits or runs (its lease void), or the DLQ."""
        task_id, queue = self._id(entry), entry.task.queue
        if entry.state is DurableState.READY:
            self._ready[queue] = [row for row in self._ready[queue] if row[-1] != task_id]
            heapq.heapify(self._ready[queue])
        elif entry.state is DurableState.DELAYED:
            self._delayed[queue] = [row for row in self._delayed[queue] if row[-1] != task_id]
            heapq.heapify(self._delayed[queue])
        elif entry.state is DurableState.PROCESSING:
            self._end_lease(entry)  # its expiry row goes stale: the token no longer matches
        elif entry.state is DurableState.DEAD:
            self._dead.remove(task_id)
        entry.state = DurableState.UNKNOWN

    def _reattach(self, entry: _Entry, queue: str | None, ready_at_ms: int, now_ms: int) -> None:
        if queue is not None:
            target = normalize_queue(queue, self._default_queue)
            if target != entry.task.queue:
                entry.task = attrs.evolve(entry.task, queue=target)
            if target not in self._known:
                self._known.add(target)
                self._rr.add(target)
        entry.seq = next(self._seq)
        entry.updated_at_ms = now_ms
        entry.cancel_requested, entry.cancelled_at_ms = "", None  # waiting again: no cancellation holds
        self._make_waiting(entry, ready_at_ms, now_ms)

    # -- internals ------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return to_ms(self._clock.now())

    @staticmethod
    def _id(entry: _Entry) -> uuid.UUID:
        assert entry.task.id is not None
        return entry.task.id

    def _enqueue(self, task: DurableTask, now_ms: int) -> uuid.UUID:
        stored = storable_task(task, self._default_queue)  # raises when it cannot be stored
        task_id, queue, key = stored.id, stored.queue, stored.idempotency_key
        assert task_id is not None
        if key:
            existing = self._idem.get(key)
            expiry = self._idem_expiry.get(key)
            if existing is not None and (expiry is None or expiry > now_ms):
                return existing
        if task_id in self._tasks:
            raise DurableTaskExistsError(task_id=task_id)
        ready_at = ready_at_ms(stored, now_ms)
        entry = _Entry(stored, next(self._seq), DurableState.READY, ready_at, now_ms)
        self._tasks[task_id] = entry
        if key:
            self._idem[key] = task_id
            self._idem_expiry.pop(key, None)
        if queue not in self._known:
            self._known.add(queue)
            self._rr.add(queue)
        self._make_waiting(entry, ready_at, now_ms)
        return task_id

    def _make_waiting(self, entry: _Entry, ready_at_ms: int, now_ms: int) -> None:
        """Put an entry in its ready heap, or its delayed heap when ``ready_at_ms`` is ahead."""
        task, task_id = entry.task, self._id(entry)
        entry.ready_at_ms = ready_at_ms
        if ready_at_ms > now_ms:
            entry.state = DurableState.DELAYED
            heapq.heappush(self._delayed[task.queue], (ready_at_ms, str(task_id), task_id))
        else:
            entry.state = DurableState.READY
            heapq.heappush(self._ready[task.queue], (task.priority, -task.weight, entry.seq, task_id))
        self._notify()

    def _promote(self, queue: str, now_ms: int) -> None:
        heap = self._delayed.get(queue)
        while heap and heap[0][0] <= now_ms:
            _, _, task_id = heapq.heappop(heap)
            entry = self._tasks.get(task_id)
            if entry is not None and entry.state is DurableState.DELAYED:
                entry.state = DurableState.READY
                task = entry.task
                heapq.heappush(self._ready[queue], (task.priority, -task.weight, entry.seq, task_id))

    def _reclaim(self, queue: str, now_ms: int) -> None:
        heap = self._expiries.get(queue)
        while heap and heap[0][0] <= now_ms:
            expiry, token, task_id = heapq.heappop(heap)
            entry = self._tasks.get(task_id)
            if entry is None or entry.token != token or entry.lease_ms != expiry:
                continue  # acked, failed, extended or already re-leased: a stale row
            self._end_lease(entry)
            if entry.cancel_requested:  # its holder never finished the cancellation: it ends here
                self._dead_letter(entry, cancel_text(entry.cancel_requested), now_ms, cancelled=True, record=False)
                continue
            entry.state = DurableState.READY
            task = entry.task
            heapq.heappush(self._ready[queue], (task.priority, -task.weight, entry.seq, task_id))

    def _refilled_bucket(self, now_ms: int) -> TokenBucket | None:
        rate = self.limits.global_rate
        if rate is None:
            return None
        bucket = self._bucket if self._bucket is not None else TokenBucket.full(*rate, now_ms)
        return bucket.refilled(now_ms)

    def _has_work(self, queue: str) -> bool:
        return queue not in self._paused_queues and bool(self._ready.get(queue))

    def _has_work_here(self, queue: str) -> bool:
        """_has_work for a node that serves only some queues (configure_queues)."""
        return self._only is not None and queue in self._only and self._has_work(queue)

    def _extend(self, lease: DurableLease, now_ms: int, duration_ms: int) -> DurableLease:
        entry = self._leased(lease)
        entry.lease_ms = now_ms + duration_ms
        entry.updated_at_ms = now_ms
        heapq.heappush(self._expiries[entry.task.queue], (entry.lease_ms, entry.token, self._id(entry)))
        return attrs.evolve(lease, expires_at=entry.lease_ms / 1000)

    def _check_cancel(self, lease: DurableLease) -> None:
        entry = self._tasks[lease.task_id]
        if entry.cancel_requested:
            raise DurableCancelRequestedError(task_id=lease.task_id, reason=entry.cancel_requested)

    def _dead_letter(
        self, entry: _Entry, error: str, now_ms: int, *, cancelled: bool, record: bool = True,
        status: TaskStatus | None = None,
    ) -> None:  # fmt: skip
        """Into the DLQ (newest first) with its error; ``cancelled``: as a cancellation. Its
        outcome (``status``, by default Failed or Cancelled) is recorded unless ``record`` is
        False (a flagged lease reclaimed by a dequeue: the Redis dequeue script records none).
        """
        entry.state = DurableState.DEAD
        entry.last_error = error
        entry.failed_at_ms = entry.updated_at_ms = now_ms
        if cancelled:
            entry.cancelled_at_ms = now_ms
        self._dead.appendleft(self._id(entry))
        if record:
            settled = status or (TaskStatus.CANCELLED if cancelled else TaskStatus.FAILED)
            self._record_outcome(entry, settled, "", error, now_ms)

    def _leased(self, lease: DurableLease) -> _Entry:
        entry = self._tasks.get(lease.task_id)
        if entry is None or entry.state is not DurableState.PROCESSING or entry.token != lease.token:
            raise DurableLeaseNotFoundError(task_id=lease.task_id, token=lease.token)
        return entry

    def _end_lease(self, entry: _Entry) -> None:
        queue = entry.task.queue
        self._processing[queue].discard(self._id(entry))
        entry.token = ""
        entry.lease_ms = 0
        if queue in self.limits.queue_concurrency and self._ready.get(queue):
            self._notify()  # a slot of a full queue is free: an idle node may lease its next task

    def _ack(self, lease: DurableLease, output: str) -> None:
        entry = self._leased(lease)
        self._end_lease(entry)
        del self._tasks[lease.task_id]
        self._record_outcome(entry, TaskStatus.COMPLETED, output, "", self._now_ms())
        key = entry.task.idempotency_key
        if key and self._idem.get(key) == lease.task_id:
            if self._idempotency_ttl_ms > 0:
                self._idem_expiry[key] = self._now_ms() + self._idempotency_ttl_ms
                self._prune_idempotency()
            else:
                del self._idem[key]

    def _record_outcome(self, entry: _Entry, status: TaskStatus, output: str, error: str, now_ms: int) -> None:
        """The settled task's outcome, in the same step (adapters/memory/results.py)."""
        results = self._results
        if results.ttl_ms:
            outcome = DurableOutcome(self._id(entry), status, output, error, entry.attempts, results.node_id,
                                     entry.task.handler, now_ms / 1000)  # fmt: skip
            results.record(outcome)

    def _prune_idempotency(self) -> None:
        now_ms = self._now_ms()
        for key in [k for k, expiry in self._idem_expiry.items() if expiry <= now_ms]:
            del self._idem_expiry[key]
            self._idem.pop(key, None)

    def _next_due_ms(self) -> int | None:
        heads = [heap[0][0] for heap in self._delayed.values() if heap]
        heads += [heap[0][0] for heap in self._expiries.values() if heap]
        if self._limit_due_ms is not None:
            heads.append(self._limit_due_ms)
        return min(heads) if heads else None

    def _ordered_ids(self, state: DurableState, queue: str) -> list[uuid.UUID]:
        """Ids in dequeue order; ties broken as Redis breaks them (by the id string)."""
        if state is DurableState.READY:
            return [row[-1] for row in sorted(self._ready.get(queue, ()))]
        if state is DurableState.DELAYED:
            return [row[-1] for row in sorted(self._delayed.get(queue, ()))]
        return sorted(self._processing.get(queue, ()), key=lambda i: (self._tasks[i].lease_ms, str(i)))

    def _record(self, entry: _Entry) -> DurableTaskRecord:
        task = entry.task
        return DurableTaskRecord(
            id=self._id(entry),
            handler=task.handler,
            queue=task.queue,
            state=entry.state,
            priority=task.priority,
            weight=task.weight,
            retries=task.retries,
            retry_delay=task.retry_delay,
            attempts=entry.attempts,
            ready_at=entry.ready_at_ms / 1000,
            updated_at=entry.updated_at_ms / 1000,
            lease_expires_at=entry.lease_ms / 1000 if entry.lease_ms else None,
            last_error=entry.last_error,
            failed_at=entry.failed_at_ms / 1000 if entry.failed_at_ms is not None else None,
            metadata=task.metadata,
            idempotency_key=task.idempotency_key,
            payload=task.payload or b"",
            cancel_requested=entry.cancel_requested,
            cancelled_at=entry.cancelled_at_ms / 1000 if entry.cancelled_at_ms is not None else None,
        )

    def _notify(self) -> None:
        self._signalled = True
        for future in self._waiters:
            if not future.done():
                future.set_result(None)
