"""AdminPageData: everything the admin page reads and changes, in one seam over the application services.

The HTTP layer calls only this class, so pointing the page at another service
(an AdminService, docs/admin.md "Where the data comes from") changes this module
and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from pyworker.application.admin import DurableAdmin, parse_task_id
from pyworker.application.ports import NodeRegistry
from pyworker.application.schedules import ScheduleAdmin
from pyworker.domain import (
    DurableState,
    DurableStats,
    DurableTaskPage,
    DurableTaskRecord,
    NodeInfo,
    TaskNotFoundError,
)
from pyworker.domain.schedule import FireRecord

#: Entries of a schedule's history the schedules page shows.
HISTORY_LIMIT = 50


@attrs.frozen
class Overview:
    """What the overview shows: the counts per queue and state, the pause flags, the live nodes."""

    stats: DurableStats
    nodes: tuple[NodeInfo, ...]


@attrs.frozen
class ScheduleState:
    """The shared pause state of the durable schedules, and one schedule's latest fires (newest first)."""

    every_paused: bool
    paused: tuple[str, ...]
    name: str = ""
    history: tuple[FireRecord, ...] = ()


@attrs.frozen
class Change:
    """A DLQ action as the confirmation step shows it: the tasks it moves and the ids no task answers to."""

    action: str
    records: tuple[DurableTaskRecord, ...]
    missing: tuple[str, ...] = ()


class AdminPageData:
    """The admin page's reads and actions over DurableAdmin and the NodeRegistry port.

    Args:
        admin: the operator service (counts, listings, moves, pause).
        nodes: the node registry (None: the store keeps no heartbeats; the page lists none).
        schedules: the durable schedules' shared state (None: the page shows none).

    Errors are the application's WorkerErrors (InvalidTaskError, TaskNotFoundError,
    BackendUnavailableError); the HTTP layer maps them to statuses in one table.
    """

    def __init__(
        self, admin: DurableAdmin, nodes: NodeRegistry | None = None, schedules: ScheduleAdmin | None = None
    ) -> None:
        self._admin = admin
        self._nodes = nodes
        self._schedules = schedules

    async def overview(self) -> Overview:
        return Overview(await self._admin.stats(), tuple(await self.nodes()))

    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, by id."""
        if self._nodes is None:
            return []
        return sorted(await self._nodes.list_nodes(), key=lambda node: node.node_id)

    async def page(self, state: str, queue: str | None, cursor: str | None, limit: int) -> DurableTaskPage:
        """One page of the tasks in ``state`` (paged in the store: never a whole queue)."""
        return await self._admin.list_tasks(state, queue or None, limit=limit, cursor=cursor or None)

    async def task(self, task_id: str) -> DurableTaskRecord:
        """Raises InvalidTaskError (not a UUID) or TaskNotFoundError."""
        return await self._admin.get(task_id)

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

    async def replay(self, task_ids: Sequence[str]) -> int:
        """Move the dead tasks among ``task_ids`` back to their queues, ready now. Returns the count."""
        change = await self.preview("replay", task_ids)
        return await self._admin.requeue([r.id for r in change.records]) if change.records else 0

    async def delete(self, task_ids: Sequence[str]) -> int:
        """Delete the dead tasks among ``task_ids`` for good (records too). Returns the count."""
        change = await self.preview("delete", task_ids)
        ids: list[uuid.UUID | str] = [r.id for r in change.records]
        return await self._admin.delete(ids, delete_hash=True) if ids else 0

    async def pause(self, queue: str | None) -> None:
        """Stop dequeue for one queue, or for every queue (None)."""
        await self._admin.pause(queue or None)

    async def resume(self, queue: str | None) -> None:
        await self._admin.resume(queue or None)

    async def schedules(self, name: str = "") -> ScheduleState | None:
        """The pause flags, and ``name``'s history when one is given (InvalidScheduleNameError for a bad one)."""
        if self._schedules is None:
            return None
        every, paused = await self._schedules.paused()
        history = await self._schedules.history(name, HISTORY_LIMIT) if name else []
        return ScheduleState(every, tuple(paused), name, tuple(history))

    async def pause_schedule(self, name: str | None) -> None:
        """Pause one schedule, or every schedule (None), for every node."""
        if self._schedules is not None:
            await self._schedules.pause(name or None)

    async def resume_schedule(self, name: str | None) -> None:
        if self._schedules is not None:
            await self._schedules.resume(name or None)
