"""The dead-letter queue as the admin plane pages, filters, shows and replays it."""

from __future__ import annotations

import attrs

from pyworker.application.admin.durable import parse_task_id
from pyworker.application.admin.queues import dead_records
from pyworker.application.inspector import DurableInspector
from pyworker.domain import MAX_PAGE_SIZE, DurableState, DurableTaskRecord, TaskNotFoundError
from pyworker.domain.admin import AdminInvalidArgumentError, AdminLimitError
from pyworker.domain.durable import cursor_at

#: ListDLQ's default page and ReplayDLQ's default limit (go-worker's).
DEFAULT_DLQ_PAGE = 100
#: A filtered listing scans the DLQ, so it needs the DLQ to hold at most this many entries (go-worker's).
FILTER_SCAN_MAX = 2000


@attrs.frozen
class DeadLetterPage:
    """One page of the DLQ (newest first) and how many entries match in all."""

    entries: tuple[DurableTaskRecord, ...]
    total: int


class DeadLetterAdmin:
    """Reads page the DLQ in the store (never the whole queue: an unfiltered page is one
    listing call from ``offset``); a filtered read scans at most FILTER_SCAN_MAX entries."""

    def __init__(self, inspector: DurableInspector) -> None:
        self._inspector = inspector

    async def page(
        self, *, limit: int = 0, offset: int = 0, queue: str = "", handler: str = "", query: str = ""
    ) -> DeadLetterPage:
        """Raises AdminLimitError when a filter is given and the DLQ is larger than FILTER_SCAN_MAX."""
        limit = limit if limit > 0 else DEFAULT_DLQ_PAGE
        offset = max(offset, 0)
        queue, handler, query = queue.strip(), handler.strip(), query.strip().lower()
        total = (await self._inspector.stats()).dead
        if not (queue or handler or query):
            return DeadLetterPage(await self._window(offset, limit), total)
        if total > FILTER_SCAN_MAX:
            raise AdminLimitError(reason="DLQ too large for filtered query")
        matches = [
            r async for r in dead_records(self._inspector, FILTER_SCAN_MAX)
            if (not queue or r.queue == queue) and (not handler or r.handler == handler)
            and (not query or any(query in text.lower() for text in (str(r.id), r.queue, r.handler)))
        ]  # fmt: skip
        return DeadLetterPage(tuple(matches[offset : offset + limit]), len(matches))

    async def _window(self, offset: int, limit: int) -> tuple[DurableTaskRecord, ...]:
        records: list[DurableTaskRecord] = []
        cursor = cursor_at(offset)
        while cursor is not None and len(records) < limit:
            page = await self._inspector.list_tasks(
                DurableState.DEAD, limit=min(MAX_PAGE_SIZE, limit - len(records)), cursor=cursor
            )
            records.extend(page.records)
            cursor = page.next_cursor
        return tuple(records[:limit])

    async def get(self, task_id: str) -> DurableTaskRecord:
        """The stored task (any state, as go-worker's GetDLQEntry).

        Raises:
            AdminInvalidArgumentError: an empty id; InvalidTaskError: not a UUID;
            TaskNotFoundError: no such task.
        """
        if not task_id.strip():
            raise AdminInvalidArgumentError(reason="admin DLQ entry id is required")
        return await self._inspector.get(parse_task_id(task_id))

    async def replay(self, limit: int) -> int:
        """Up to ``limit`` (<= 0: 100) dead tasks, oldest first, back to their queues."""
        return await self._inspector.replay_dead(limit if limit > 0 else DEFAULT_DLQ_PAGE)

    async def replay_ids(self, ids: list[str]) -> int:
        """The named tasks that are dead, back to their queues (ids trimmed, blanks and
        duplicates dropped). A task that is not dead is left where it is (unlike go-worker,
        which moves any task: docs/differences.md).

        Raises:
            AdminInvalidArgumentError: no id left; InvalidTaskError: one is not a UUID.
        """
        wanted = list(dict.fromkeys(parse_task_id(i) for i in ids if i.strip()))
        if not wanted:
            raise AdminInvalidArgumentError(reason="admin replay ids are required")
        dead = []
        for task_id in wanted:
            try:
                record = await self._inspector.get(task_id)
            except TaskNotFoundError:
                continue
            if record.state is DurableState.DEAD:
                dead.append(task_id)
        return await self._inspector.requeue(dead) if dead else 0
