"""The operator side of the in-memory durable store: the DurableInspector port (adapters/memory/durable.py)."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence

import attrs

from pyworker.adapters.memory.store import MemoryStore, _Entry
from pyworker.domain.durable import (
    DEFAULT_PAGE_SIZE,
    DurableState,
    DurableStats,
    DurableTask,
    DurableTaskPage,
    DurableTaskRecord,
    QueueStats,
    cursor_at,
    durable_weight,
    listable_state,
    page_window,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import (
    TaskNotFoundError,
)
from pyworker.domain.scheduling import (
    normalize_queue,
)


class MemoryInspectorSide(MemoryStore):
    """Counts, records, pages and the operator moves (each task moved in one step)."""

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

