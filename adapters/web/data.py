"""AdminPageData: everything the admin page reads and changes, in one seam over the application services.

The HTTP layer calls only this class. Every action goes through the AdminService, so each
records an audit event with the caller's RequestContext (docs/admin.md "Where the data comes from").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from pyworker.application.admin import (
    AdminService,
    DurableAdmin,
    HistorySampler,
    RequestContext,
    Sample,
    ScheduleEntry,
    parse_task_id,
)
from pyworker.application.ports import NodeRegistry
from pyworker.application.schedules import ScheduleAdmin
from pyworker.domain import (
    DurableState,
    DurableStats,
    DurableTaskRecord,
    NodeInfo,
    TaskNotFoundError,
)
from pyworker.domain.admin import AuditEvent, QueueSummary
from pyworker.domain.durable import cursor_at
from pyworker.domain.schedule import FireRecord

#: Entries of a schedule's history the schedules page shows.
HISTORY_LIMIT = 50
#: A handler search reads at most this many store pages per page it shows (docs/admin.md "Task browser").
HANDLER_SCAN_PAGES = 10
EVERY = "*"


@attrs.frozen
class Overview:
    """What the overview shows: the counts per queue and state, the pause flags, the live nodes."""

    stats: DurableStats
    nodes: tuple[NodeInfo, ...]


@attrs.frozen
class TaskPage:
    """One page of the task browser: the tasks shown, where the next page starts (None: the end),
    and how many stored tasks were read to find them (a handler search reads more than it shows)."""

    records: tuple[DurableTaskRecord, ...]
    next_cursor: str | None
    scanned: int


@attrs.frozen
class ScheduleState:
    """The shared pause state of the durable schedules, the schedules registered here (None: the
    admin was started without ``--schedules``), and one schedule's latest fires (newest first)."""

    every_paused: bool
    paused: tuple[str, ...]
    registered: tuple[ScheduleEntry, ...] | None = None
    name: str = ""
    history: tuple[FireRecord, ...] = ()


@attrs.frozen
class Change:
    """A DLQ action as the confirmation step shows it: the tasks it moves and the ids no task answers to."""

    action: str
    records: tuple[DurableTaskRecord, ...]
    missing: tuple[str, ...] = ()
    oldest: bool = False  # "replay the oldest N": the records are the DLQ's oldest, oldest first


class AdminPageData:
    """The admin page's reads and actions over the AdminService (every action, audited), the
    operator service for the listings the AdminService has not (every state, paged), the
    NodeRegistry port, the schedules' shared state and the history sampler.

    Args:
        service: go-worker's AdminService over the same store.
        admin: the operator service (counts, listings, the DLQ delete).
        nodes: the node registry (None: the store keeps no heartbeats; the page lists none).
        schedules: the durable schedules' shared state (None: the page shows none).
        history: the depth and throughput samples (None: no charts).
        registered_schedules: whether ``service`` has a ScheduleService with schedules to list.

    Errors are the application's WorkerErrors; the HTTP layer maps them to statuses in one table.
    """

    def __init__(
        self,
        service: AdminService,
        admin: DurableAdmin,
        nodes: NodeRegistry | None = None,
        schedules: ScheduleAdmin | None = None,
        history: HistorySampler | None = None,
        *,
        registered_schedules: bool = False,
    ) -> None:
        self.service = service
        self._admin = admin
        self._nodes = nodes
        self._schedules = schedules
        self.history = history
        self._registered = registered_schedules

    @property
    def requires_approval(self) -> bool:
        """Replay and run-now need an approval token (the guardrails, docs/grpc.md "Guardrails")."""
        return self.service.guardrails.require_approval

    # -- reads -------------------------------------------------------------------------------

    async def overview(self) -> Overview:
        return Overview(await self._admin.stats(), tuple(await self.nodes()))

    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, by id."""
        if self._nodes is None:
            return []
        return sorted(await self._nodes.list_nodes(), key=lambda node: node.node_id)

    async def queues(self) -> list[QueueSummary]:
        """Every queue with its counts, stored weight and pause flag."""
        return await self.service.list_queues()

    async def samples(self) -> list[Sample]:
        """The last hour's samples, oldest first ([] without a history)."""
        return [] if self.history is None else await self.history.recent()

    async def page(
        self, state: str, queue: str | None, cursor: str | None, limit: int, handler: str = ""
    ) -> TaskPage:
        """One page of the tasks in ``state`` (paged in the store: never a whole queue). With a
        ``handler``, the tasks whose handler contains it among the next ``HANDLER_SCAN_PAGES``
        store pages (stopping once a page's worth is found); the cursor goes on from there."""
        handler = handler.strip()
        found: list[DurableTaskRecord] = []
        scanned = 0
        for _ in range(HANDLER_SCAN_PAGES if handler else 1):
            page = await self._admin.list_tasks(
                state, queue or None, limit=limit, cursor=cursor or None, payloads=False
            )  # a page shows no payload: none is read (make bench-admin)
            scanned += len(page.records)
            found.extend(r for r in page.records if handler in r.handler)
            cursor = page.next_cursor
            if cursor is None or len(found) >= limit:
                break
        return TaskPage(tuple(found), cursor, scanned)

    async def task(self, task_id: str) -> DurableTaskRecord:
        """Raises InvalidTaskError (not a UUID) or TaskNotFoundError."""
        return await self._admin.get(task_id)

    async def audit(self, action: str = "", target: str = "", limit: int = 0) -> list[AuditEvent]:
        """The audit log, newest first, filtered by action and target (exact), at most ``limit``."""
        return await self.service.audit_events(action=action, target=target, limit=limit)

    async def schedules(self, name: str = "") -> ScheduleState | None:
        """The pause flags, the registered schedules, and ``name``'s history when one is given
        (InvalidScheduleNameError for a bad name)."""
        if self._schedules is None:
            return None
        every, paused = await self._schedules.paused()
        registered = tuple(await self.service.list_schedules()) if self._registered else None
        history = await self._schedules.history(name, HISTORY_LIMIT) if name else []
        return ScheduleState(every, tuple(paused), registered, name, tuple(history))

    # -- the DLQ -----------------------------------------------------------------------------

    async def preview(self, action: str, task_ids: Sequence[str]) -> Change:
        """What ``action`` ("replay" or "delete") would change: the dead tasks among ``task_ids``.

        Raises:
            InvalidTaskError: an id that is not a UUID.
        """
        records: list[DurableTaskRecord] = []
        missing: list[str] = []
        for task_id in dict.fromkeys(str(parse_task_id(t)) for t in task_ids):
            try:
                record = await self._admin.get(task_id)
            except TaskNotFoundError:
                missing.append(task_id)
                continue
            if record.state is DurableState.DEAD:
                records.append(record)
            else:
                missing.append(task_id)
        return Change(action, tuple(records), tuple(missing))

    async def oldest_dead(self, count: int) -> Change:
        """The ``count`` oldest tasks of the DLQ, oldest first: what "replay the oldest N" moves
        (one listing from the DLQ's far end; the guardrails cap ``count``)."""
        self.service.guardrails.check_replay_ids(count)
        total = (await self._admin.stats()).dead
        cursor = cursor_at(max(total - count, 0))
        records: list[DurableTaskRecord] = []
        while cursor is not None and len(records) < count:
            page = await self._admin.list_tasks(
                DurableState.DEAD, limit=min(count - len(records), 500), cursor=cursor, payloads=False
            )
            records.extend(page.records)
            cursor = page.next_cursor
        return Change("replay", tuple(reversed(records[:count])), oldest=True)

    async def replay(self, ctx: RequestContext, task_ids: Sequence[str]) -> int:
        """Move the dead tasks among ``task_ids`` back to their queues, ready now. Returns the count."""
        return await self.service.replay_dlq_ids(ctx, list(task_ids))

    async def delete(self, ctx: RequestContext, task_ids: Sequence[str]) -> int:
        """Delete the dead tasks among ``task_ids`` for good (records too). Returns the count."""

        async def delete() -> int:
            change = await self.preview("delete", task_ids)
            ids: list[uuid.UUID | str] = [r.id for r in change.records]
            return await self._admin.delete(ids, delete_hash=True) if ids else 0

        return await self.service.audited(ctx, "dlq.delete_ids", EVERY, {"ids": list(task_ids)}, delete)

    # -- queues ------------------------------------------------------------------------------

    async def pause(self, ctx: RequestContext, queue: str | None, paused: bool = True) -> None:
        """Stop (or restart) dequeue from one known queue, or from every queue (None)."""
        if queue:
            await self.service.pause_queue(ctx, queue, paused)
        elif paused:
            await self.service.pause_dequeue(ctx)
        else:
            await self.service.resume_dequeue(ctx)

    async def set_weight(self, ctx: RequestContext, queue: str, weight: int | None) -> QueueSummary:
        """Store ``weight`` for every node's dequeue, or forget the stored one (None)."""
        if weight is None:
            return await self.service.reset_queue_weight(ctx, queue)
        return await self.service.update_queue_weight(ctx, queue, weight)

    # -- schedules ---------------------------------------------------------------------------

    async def pause_schedule(self, ctx: RequestContext, name: str | None, paused: bool) -> None:
        """Pause or resume one schedule, or every schedule (None), for every node: in the store,
        so a schedule this admin has not registered can be paused too."""
        store = self._schedules
        if store is None:
            return
        switch = store.pause if paused else store.resume
        if name:
            fields: dict[str, object] = {"name": name, "paused": paused}
            await self.service.audited(ctx, "schedule.pause", name, fields, lambda: switch(name))
        else:
            await self.service.audited(ctx, "schedule.pause_all", EVERY, {"paused": paused}, lambda: switch(None))

    async def run_schedule(self, ctx: RequestContext, name: str) -> uuid.UUID | None:
        """Fire a registered schedule now (guardrails: approval and the run-now rate)."""
        return await self.service.run_schedule(ctx, name)
