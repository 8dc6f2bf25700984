"""DurableAdmin: the operator actions on a durable store, written once for every entrypoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from pyworker.application.ports import DurableInspector, DurableQueue
from pyworker.domain import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ConfigurationError,
    DurableState,
    DurableStats,
    DurableTask,
    DurableTaskPage,
    DurableTaskRecord,
    InvalidTaskError,
    listable_state,
)


class DurableAdmin:
    """What an operator can do to a durable store, over the DurableInspector port.

    The CLI, a gRPC admin service and a web page each decode their input, call
    one method here and encode the answer; they accept what an operator types
    (task ids and states as text), so the parsing and its errors live here once.
    Every error is a WorkerError: ``InvalidTaskError`` for a bad id, state, limit
    or cursor, ``TaskNotFoundError``, ``BackendUnavailableError``.
    """

    def __init__(self, inspector: DurableInspector, queue: DurableQueue | None = None) -> None:
        self._inspector = inspector
        self._queue = queue

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        """Store one task whose payload bytes the operator gave (no handler or codec check:
        the bytes must be what the workers' codec reads). Needs the ``queue`` port.

        Raises:
            DurableTaskExistsError: the id is already stored.
            InvalidTaskError, DurablePayloadError: no id, handler or payload.
            ConfigurationError: this admin was built without a DurableQueue.
        """
        if self._queue is None:
            raise ConfigurationError(reason="enqueue needs a DurableQueue: build DurableAdmin(inspector, queue)")
        return await self._queue.enqueue(task)

    async def stats(self) -> DurableStats:
        """Per-queue counts, the DLQ size and the pause flags."""
        return await self._inspector.stats()

    async def get(self, task_id: uuid.UUID | str) -> DurableTaskRecord:
        """One stored task.

        Raises:
            InvalidTaskError: ``task_id`` is not a UUID.
            TaskNotFoundError: no such task is stored.
        """
        return await self._inspector.get(parse_task_id(task_id))

    async def list_tasks(
        self,
        state: DurableState | str,
        queue: str | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        payloads: bool = True,
    ) -> DurableTaskPage:
        """One page of the tasks in ``state`` ("ready", "delayed", "processing",
        "dead" or the DurableState), optionally of one queue; pass ``next_cursor``
        back as ``cursor`` for the next page. ``payloads=False``: records without
        their payloads (``b""``), for a listing that shows none.
        """
        wanted = listable_state(state)
        return await self._inspector.list_tasks(wanted, queue, limit=limit, cursor=cursor, payloads=payloads)

    async def iter_tasks(
        self, state: DurableState | str, queue: str | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[DurableTaskRecord]:
        """Every task in ``state``, page after page, until no page follows."""
        wanted = listable_state(state)
        cursor: str | None = None
        while True:
            page = await self._inspector.list_tasks(wanted, queue, limit=page_size, cursor=cursor)
            for record in page.records:
                yield record
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def requeue(self, task_ids: Sequence[uuid.UUID | str], queue: str | None = None, delay: float = 0.0) -> int:
        """Make each task wait again (from any state), ready now or after ``delay``;
        ``queue`` moves it there. Atomic per task; unknown ids skipped. Returns the count moved.

        Raises:
            InvalidTaskError: an id that is not a UUID (nothing is moved).
        """
        return await self._inspector.requeue([parse_task_id(t) for t in task_ids], queue, delay)

    async def delete(self, task_ids: Sequence[uuid.UUID | str], *, delete_hash: bool = False) -> int:
        """Take each task out of every queue and the DLQ (``delete_hash``: forget it too).
        Atomic per task; unknown ids skipped. Returns the count deleted.

        Raises:
            InvalidTaskError: an id that is not a UUID (nothing is deleted).
        """
        return await self._inspector.delete([parse_task_id(t) for t in task_ids], delete_hash=delete_hash)

    async def replay_dead(self, limit: int) -> int:
        """Move up to ``limit`` dead-letter tasks, oldest first, back to their queues. Returns the count."""
        return await self._inspector.replay_dead(limit)

    async def restore(self, records: Sequence[DurableTaskRecord]) -> int:
        """Write tasks back as their records say (a snapshot import; see DurableInspector.restore)."""
        return await self._inspector.restore(records)

    async def pause(self, queue: str | None = None) -> None:
        """Stop dequeue for one queue, or for all (None). Tasks keep arriving."""
        await self._inspector.pause(queue)

    async def resume(self, queue: str | None = None) -> None:
        """Undo a pause of one queue, or the global pause (None)."""
        await self._inspector.resume(queue)


def parse_task_id(task_id: uuid.UUID | str) -> uuid.UUID:
    """A task id from a UUID or its text. Raises InvalidTaskError."""
    if isinstance(task_id, uuid.UUID):
        return task_id
    try:
        return uuid.UUID(str(task_id).strip())
    except ValueError as exc:
        raise InvalidTaskError(reason=f"invalid task id {task_id!r}: expected a UUID") from exc
