"""Queue summaries and the queue actions of the admin plane: weights (persisted) and per-queue pause."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pyworker.application.admin.ports import QueueWeightStore
from pyworker.application.inspector import DurableInspector
from pyworker.domain import MAX_PAGE_SIZE, DurableState, DurableStats, DurableTaskRecord
from pyworker.domain.admin import AdminInvalidArgumentError, AdminNotFoundError, QueueSummary

#: Per-queue dead counts are read only while the DLQ holds at most this many entries
#: (go-worker's bound); beyond it a queue's ``dead`` is -1.
DEAD_COUNT_SCAN_MAX = 2000
#: The largest weight the wire carries (int32).
MAX_WEIGHT = 2**31 - 1


def queue_name(name: str) -> str:
    """A queue name as the admin plane takes it: trimmed, not empty."""
    trimmed = (name or "").strip()
    if not trimmed:
        raise AdminInvalidArgumentError(reason="admin queue name is required")
    return trimmed


class QueueAdmin:
    """Every queue a store knows, with counts, its stored weight and its pause flag.

    Unlike go-worker, a paused queue stays listed, and a queue with no dead tasks
    counts 0 (docs/differences.md).
    """

    def __init__(self, inspector: DurableInspector, weights: QueueWeightStore) -> None:
        self._inspector = inspector
        self._weights = weights

    async def summaries(self) -> list[QueueSummary]:
        stats = await self._inspector.stats()
        weights = await self._weights.weights()
        dead = await self._dead_by_queue(stats)
        counts = {q.queue: q for q in stats.queues}
        summaries = []
        for name in sorted(set(counts) | set(weights)):
            q = counts.get(name)
            summaries.append(QueueSummary(
                name=name, ready=q.ready if q else 0, delayed=q.delayed if q else 0,
                processing=q.processing if q else 0, dead=-1 if dead is None else dead.get(name, 0),
                weight=weights.get(name, 1), paused=bool(q and q.paused),
            ))  # fmt: skip
        return summaries

    async def get(self, name: str) -> QueueSummary:
        """Raises AdminInvalidArgumentError (empty name), AdminNotFoundError (unknown queue)."""
        wanted = queue_name(name)
        for summary in await self.summaries():
            if summary.name == wanted:
                return summary
        raise AdminNotFoundError(reason=f"admin queue not found: {wanted}")

    async def update_weight(self, name: str, weight: int) -> QueueSummary:
        """Store ``weight`` for every node's dequeue; the queue becomes known if it was not."""
        wanted = queue_name(name)
        if weight <= 0 or weight > MAX_WEIGHT:
            raise AdminInvalidArgumentError(reason="admin queue weight is invalid")
        await self._weights.set_weight(wanted, weight)
        return await self.get(wanted)

    async def reset_weight(self, name: str) -> QueueSummary:
        """Forget the stored weight (nodes go back to their configured one)."""
        summary = await self.get(name)
        await self._weights.reset_weight(summary.name)
        return await self.get(summary.name)

    async def pause(self, name: str, paused: bool) -> QueueSummary:
        """Pause or resume dequeue from one known queue, for every node."""
        summary = await self.get(name)
        if paused:
            await self._inspector.pause(summary.name)
        else:
            await self._inspector.resume(summary.name)
        return await self.get(summary.name)

    async def _dead_by_queue(self, stats: DurableStats) -> dict[str, int] | None:
        if stats.dead > DEAD_COUNT_SCAN_MAX:
            return None
        counts: dict[str, int] = {}
        async for record in dead_records(self._inspector, DEAD_COUNT_SCAN_MAX):
            counts[record.queue] = counts.get(record.queue, 0) + 1
        return counts


async def dead_records(inspector: DurableInspector, most: int) -> AsyncIterator[DurableTaskRecord]:
    """The DLQ newest first, page by page, at most ``most`` records."""
    cursor: str | None = None
    seen = 0
    while seen < most:
        page = await inspector.list_tasks(DurableState.DEAD, limit=min(MAX_PAGE_SIZE, most - seen), cursor=cursor)
        for record in page.records:
            yield record
        seen += len(page.records)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
