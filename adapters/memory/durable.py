"""InMemoryDurableBackend: the embedded durable task store, one event loop, no I/O."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence

import attrs

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.memory.admin import InMemoryAdminHistory, InMemoryAuditLog, InMemoryQueueWeights
from pyworker.adapters.memory.nodes import InMemoryNodeRegistry
from pyworker.adapters.memory.results import InMemoryDurableResults
from pyworker.adapters.memory.schedules import InMemoryScheduleStore
from pyworker.application.ports import Clock
from pyworker.domain import DurableOutcome
from pyworker.domain.durable import (
    DEFAULT_CANCEL_REASON,
    DEFAULT_IDEMPOTENCY_TTL,
    DEFAULT_PAGE_SIZE,
    CancelOutcome,
    DurableLease,
    DurableState,
    DurableStats,
    DurableTask,
    DurableTaskPage,
    DurableTaskRecord,
    QueueStats,
    cancel_text,
    cursor_at,
    durable_weight,
    effective_lease,
    failure_text,
    listable_state,
    page_window,
    ready_at_ms,
    storable_task,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import (
    DurableCancelRequestedError,
    DurableLeaseNotFoundError,
    DurablePayloadError,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)
from pyworker.domain.limits import DurableLimits, TokenBucket
from pyworker.domain.scheduling import (
    DEFAULT_QUEUE,
    WeightedRoundRobin,
    normalize_queue,
    normalize_queue_weights,
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


class _CancelSubscription:
    """One ``subscribe_cancellations`` callback, until closed."""

    def __init__(self, callbacks: list[Callable[[uuid.UUID, str], None]], callback: Callable[[uuid.UUID, str], None]):
        self._callbacks = callbacks
        self._callback = callback
        callbacks.append(callback)

    async def close(self) -> None:
        if self._callback in self._callbacks:
            self._callbacks.remove(self._callback)


class InMemoryDurableBackend:
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
    """

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

    # -- writes ---------------------------------------------------------------------------

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        return self._enqueue(task, self._now_ms())

    async def enqueue_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID | BaseException]:
        now_ms = self._now_ms()
        results: list[uuid.UUID | BaseException] = []
        for task in tasks:
            try:
                results.append(self._enqueue(task, now_ms))
            except (DurableTaskExistsError, InvalidTaskError, DurablePayloadError) as exc:
                results.append(exc)
        return results

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        now_ms = self._now_ms()
        lease_ms = to_ms(effective_lease(lease))
        for queue in self._rr.names:
            self._promote(queue, now_ms)
            self._reclaim(queue, now_ms)
        if self._paused:
            return []
        wanted = max(limit, 1)
        bucket, self._limit_due_ms = self._refilled_bucket(now_ms), None
        if bucket is not None:
            wanted = min(wanted, bucket.available)
        room = {q: cap - len(self._processing.get(q, ())) for q, cap in self.limits.queue_concurrency.items()}
        has_work = self._has_work if self._only is None else self._has_work_here
        if room:
            base = has_work

            def has_work(queue: str) -> bool:
                return room.get(queue, 1) > 0 and base(queue)

        leases: list[DurableLease] = []
        token_base = secrets.token_hex(8)
        while len(leases) < wanted:
            picked = self._rr.pick(has_work)
            if picked is None:
                break
            if picked in room:
                room[picked] -= 1
            _, _, _, task_id = heapq.heappop(self._ready[picked])
            entry = self._tasks[task_id]
            entry.state = DurableState.PROCESSING
            entry.attempts += 1
            entry.token = f"{token_base}:{len(leases) + 1}"
            entry.lease_ms = now_ms + lease_ms
            entry.updated_at_ms = now_ms
            self._processing[picked].add(task_id)
            heapq.heappush(self._expiries[picked], (entry.lease_ms, entry.token, task_id))
            leases.append(
                DurableLease(entry.task, entry.token, entry.attempts, entry.task.retries, entry.lease_ms / 1000)
            )
        if bucket is not None:
            self._bucket = bucket = bucket.take(len(leases))
            if len(leases) == wanted < max(limit, 1):  # the bucket stopped this call: look again at its next token
                self._limit_due_ms = bucket.next_token_ms()
        return leases

    async def ack(self, lease: DurableLease, output: str = "") -> None:
        self._ack(lease, output)

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for index, lease in enumerate(leases):
            try:
                self._ack(lease, outputs[index] if outputs is not None else "")
                results.append(None)
            except DurableLeaseNotFoundError as exc:
                results.append(exc)
        return results

    async def nack(self, lease: DurableLease, delay: float) -> None:
        entry = self._leased(lease)
        now_ms = self._now_ms()
        self._end_lease(entry)
        if entry.cancel_requested:  # a retry of a task whose cancellation was requested: it ends here
            self._dead_letter(entry, cancel_text(entry.cancel_requested), now_ms, cancelled=True)
            return
        entry.seq = next(self._seq)  # a retry queues behind tasks already waiting at its priority
        entry.updated_at_ms = now_ms
        self._make_waiting(entry, now_ms + max(to_ms(delay), 0), now_ms)

    async def fail(
        self, lease: DurableLease, error: str | BaseException, *, status: TaskStatus = TaskStatus.FAILED
    ) -> None:
        entry = self._leased(lease)
        now_ms = self._now_ms()
        self._end_lease(entry)
        self._dead_letter(entry, failure_text(error), now_ms, cancelled=status is TaskStatus.CANCELLED, status=status)

    async def cancel(self, task_id: uuid.UUID, reason: str) -> CancelOutcome:
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFoundError(task_id=task_id)
        reason = reason or DEFAULT_CANCEL_REASON
        now_ms = self._now_ms()
        if entry.state in (DurableState.READY, DurableState.DELAYED):
            self._detach(entry)
            entry.cancel_requested = reason
            self._dead_letter(entry, cancel_text(reason), now_ms, cancelled=True)
            return CancelOutcome.WITHDRAWN
        if entry.state is not DurableState.PROCESSING:
            return CancelOutcome.ALREADY_DONE
        entry.cancel_requested = reason
        entry.updated_at_ms = now_ms
        loop = asyncio.get_running_loop()
        for callback in list(self._cancel_callbacks):  # as a published message: soon, not inside this call
            loop.call_soon(callback, task_id, reason)
        return CancelOutcome.FLAGGED

    async def subscribe_cancellations(self, callback: Callable[[uuid.UUID, str], None]) -> _CancelSubscription:
        return _CancelSubscription(self._cancel_callbacks, callback)

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        renewed = self._extend(lease, self._now_ms(), to_ms(effective_lease(duration)))
        self._check_cancel(lease)
        return renewed

    async def extend_many(
        self, leases: Sequence[DurableLease], duration: float
    ) -> list[DurableLease | BaseException]:
        now_ms, duration_ms = self._now_ms(), to_ms(effective_lease(duration))
        results: list[DurableLease | BaseException] = []
        for lease in leases:
            try:
                renewed = self._extend(lease, now_ms, duration_ms)
                self._check_cancel(lease)
                results.append(renewed)
            except (DurableLeaseNotFoundError, DurableCancelRequestedError) as exc:
                results.append(exc)
        return results

    async def release(self, leases: Sequence[DurableLease]) -> None:
        now_ms = self._now_ms()
        for lease in leases:
            try:
                entry = self._leased(lease)
            except DurableLeaseNotFoundError:
                continue
            self._end_lease(entry)
            entry.attempts = max(entry.attempts - 1, 0)
            entry.updated_at_ms = now_ms
            self._make_waiting(entry, now_ms, now_ms)  # keeps its seq: back in its old place

    async def configure_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        self._default_queue = normalize_queue(default_queue)
        self._configured_weights = normalize_queue_weights(weights)
        self._rr.weights = {**self._configured_weights, **self._stored_weights}
        self._rr.add(self._default_queue)
        self._only = {normalize_queue(q, self._default_queue) for q in queues} if queues else None

    async def configure_results(self, ttl: float, max_len: int, node_id: str) -> None:
        self._results.configure(ttl, max_len, node_id)

    async def pause(self, queue: str | None = None) -> None:
        if queue is None:
            self._paused = True
        else:
            self._paused_queues.add(normalize_queue(queue, self._default_queue))

    async def resume(self, queue: str | None = None) -> None:
        if queue is None:
            self._paused = False
        else:
            self._paused_queues.discard(normalize_queue(queue, self._default_queue))
        self._notify()

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        await self.wait_for_work(max_wait)
        return await self.dequeue(limit, lease)

    async def wait_for_work(self, max_wait: float) -> None:
        if self._signalled:
            self._signalled = False
            return
        timeout = max_wait
        due_ms = self._next_due_ms()
        if due_ms is not None:
            # From the unrounded clock: a ManualClock set exactly to the due time wakes.
            timeout = min(timeout, due_ms / 1000 - self._clock.now())
        if timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self._clock.call_later(timeout, wake)
        self._waiters.add(future)
        try:
            await future
        finally:
            timer.cancel()
            self._waiters.discard(future)
            self._signalled = False

    async def ping(self) -> None:
        """Always answers: the store is this object."""

    async def close(self) -> None:
        self._notify()

    # -- reads ----------------------------------------------------------------------------

    async def stats(self) -> DurableStats:
        names = sorted(self._known | self._paused_queues | {self._default_queue})
        queues = tuple(
            QueueStats(
                queue=name,
                ready=len(self._ready.get(name, ())),
                delayed=len(self._delayed.get(name, ())),
                processing=len(self._processing.get(name, ())),
                paused=name in self._paused_queues,
            )
            for name in names
        )
        return DurableStats(queues=queues, dead=len(self._dead), paused=self._paused)

    async def get(self, task_id: uuid.UUID) -> DurableTaskRecord:
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFoundError(task_id=task_id)
        return self._record(entry)

    async def list_tasks(
        self,
        state: DurableState,
        queue: str | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        payloads: bool = True,
    ) -> DurableTaskPage:
        page = self._list(listable_state(state), queue, limit, cursor)
        if payloads:
            return page
        return DurableTaskPage(tuple(attrs.evolve(r, payload=b"") for r in page.records), page.next_cursor)

    def _list(self, wanted: DurableState, queue: str | None, limit: int, cursor: str | None) -> DurableTaskPage:
        start, size = page_window(limit, cursor)
        names = [normalize_queue(queue, self._default_queue)] if queue is not None else self._rr.names
        ids: list[uuid.UUID]
        if wanted is DurableState.DEAD:
            ids = list(self._dead)
            if queue is not None:
                # A cursor is a position in the whole DLQ, as in Redis, whose script scans it in place.
                picked = [i for i in range(start, len(ids)) if self._tasks[ids[i]].task.queue in names]
                follows = picked[size] if len(picked) > size else None
                records = tuple(self._record(self._tasks[ids[i]]) for i in picked[:size])
                return DurableTaskPage(records, cursor_at(follows))
        else:
            ids = []
            for name in names:
                ids.extend(self._ordered_ids(wanted, name))
        records = tuple(self._record(self._tasks[i]) for i in ids[start : start + size])
        return DurableTaskPage(records, cursor_at(start + size if len(ids) > start + size else None))

    # -- operator moves (each task moved in one step: nothing else runs in between) ----------

    async def requeue(self, task_ids: Sequence[uuid.UUID], queue: str | None = None, delay: float = 0.0) -> int:
        now_ms, moved = self._now_ms(), 0
        for task_id in task_ids:
            entry = self._tasks.get(task_id)
            if entry is not None:
                self._detach(entry)
                self._reattach(entry, queue, now_ms + max(to_ms(delay), 0), now_ms)
                self._results.forget(task_id)  # it runs again: its old outcome is stale
                moved += 1
        return moved

    async def delete(self, task_ids: Sequence[uuid.UUID], *, delete_hash: bool = False) -> int:
        now_ms, deleted = self._now_ms(), 0
        for task_id in task_ids:
            entry = self._tasks.get(task_id)
            if entry is None:
                continue
            self._detach(entry)
            deleted += 1
            if delete_hash:
                del self._tasks[task_id]
                key = entry.task.idempotency_key
                if key and self._idem.get(key) == task_id:
                    del self._idem[key]
                    self._idem_expiry.pop(key, None)
            else:
                entry.state = DurableState.UNKNOWN
                entry.updated_at_ms = now_ms
        return deleted

    async def replay_dead(self, limit: int) -> int:
        now_ms, replayed = self._now_ms(), 0
        while self._dead and replayed < limit:
            entry = self._tasks.get(self._dead.pop())  # the tail: the oldest
            if entry is not None:
                entry.state = DurableState.UNKNOWN  # already out of the DLQ
                self._reattach(entry, None, now_ms, now_ms)
                self._results.forget(self._id(entry))
                replayed += 1
        return replayed

    async def restore(self, records: Sequence[DurableTaskRecord]) -> int:
        now_ms = self._now_ms()
        for record in records:
            old = self._tasks.get(record.id)
            if old is not None:
                self._detach(old)
            self._results.forget(record.id)
            queue = normalize_queue(record.queue, self._default_queue)
            task = DurableTask(
                handler=record.handler, payload=record.payload, id=record.id, priority=record.priority,
                queue=queue, weight=durable_weight(record.weight), retries=record.retries,
                retry_delay=record.retry_delay, metadata=record.metadata, idempotency_key=record.idempotency_key,
            )
            entry = _Entry(task, next(self._seq), DurableState.UNKNOWN, to_ms(record.ready_at or 0) or now_ms,
                           to_ms(record.updated_at or 0) or now_ms, attempts=record.attempts,
                           last_error=record.last_error,
                           failed_at_ms=None if record.failed_at is None else to_ms(record.failed_at),
                           cancel_requested=record.cancel_requested,
                           cancelled_at_ms=None if record.cancelled_at is None else to_ms(record.cancelled_at))
            self._tasks[record.id] = entry
            if queue not in self._known:
                self._known.add(queue)
                self._rr.add(queue)
            if record.idempotency_key:
                self._idem[record.idempotency_key] = record.id
                self._idem_expiry.pop(record.idempotency_key, None)
            if record.state is DurableState.DEAD:
                entry.state = DurableState.DEAD
                self._dead.append(record.id)
            elif record.state is DurableState.PROCESSING:
                entry.state = DurableState.PROCESSING
                entry.token = f"restored:{record.id}"
                entry.lease_ms = to_ms(record.lease_expires_at or 0) or now_ms
                self._processing[queue].add(record.id)
                heapq.heappush(self._expiries[queue], (entry.lease_ms, entry.token, record.id))
            else:
                ready_at = entry.ready_at_ms
                if record.state is not DurableState.DELAYED:
                    ready_at = min(ready_at, now_ms)
                self._make_waiting(entry, ready_at, now_ms)
        return len(records)

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
