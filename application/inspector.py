"""The DurableInspector port: what an operator needs from a durable store (re-exported by ``ports``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pyworker.domain import DEFAULT_PAGE_SIZE, DurableState, DurableStats, DurableTaskPage, DurableTaskRecord


@runtime_checkable
class DurableInspector(Protocol):
    """What an operator needs from the same store: read it and steer dequeue.

    Reads never change a task. Technology errors surface as
    ``BackendUnavailableError``. The moves (``requeue``, ``delete``,
    ``replay_dead``) are atomic per task: an interrupted bulk move leaves each
    task moved or not, never half-moved, and a moved task keeps its attempts,
    metadata, idempotency key and payload bytes. A lease held on a moved task is
    void (its ack / nack / fail are refused).
    """

    async def stats(self) -> DurableStats:
        """Per-queue ready / delayed / processing counts, the DLQ size, pauses."""
        ...

    async def get(self, task_id: uuid.UUID) -> DurableTaskRecord:
        """One stored task, payload included. Raises TaskNotFoundError."""
        ...

    async def list_tasks(
        self,
        state: DurableState,
        queue: str | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        payloads: bool = True,
    ) -> DurableTaskPage:
        """One page of the tasks in ``state``, in dequeue order per queue (queues
        alphabetical; the DLQ newest first), at most ``limit`` records
        (MAX_PAGE_SIZE at most per page) from ``cursor`` (None: the start).

        ``payloads=False`` leaves every record's payload out (``b""``; the store
        does not send it): a listing that shows no payload then costs the same
        whatever the payloads weigh (docs/durable.md, "Listing in pages").

        Pass the page's ``next_cursor`` back to read on; None means nothing
        follows. Cursors are positions: tasks that move while you page may be
        skipped or seen twice. A delayed task that is due but not yet moved by a
        dequeue still lists as delayed.

        Raises:
            InvalidTaskError: a state that cannot be listed (UNKNOWN, or a string
                that names no state), limit < 1, or a cursor no page returned.
        """
        ...

    async def pause(self, queue: str | None = None) -> None:
        """Stop dequeue for one queue, or for all (``None``)."""
        ...

    async def resume(self, queue: str | None = None) -> None:
        """Undo ``pause`` for one queue, or the global pause (``None``)."""
        ...

    async def requeue(self, task_ids: Sequence[uuid.UUID], queue: str | None = None, delay: float = 0.0) -> int:
        """Make each task wait again, from any state (ready, delayed, processing, dead):
        ready now (behind its peers), or delayed until now + ``delay``. ``queue``
        moves it to that queue (None: its own). Unknown ids are skipped.

        Returns:
            How many tasks were moved.
        """
        ...

    async def delete(self, task_ids: Sequence[uuid.UUID], *, delete_hash: bool = False) -> int:
        """Take each task out of every queue and the DLQ, so no worker sees it again.
        With ``delete_hash`` the task is forgotten (``get`` raises TaskNotFoundError,
        its idempotency key is free again); without, ``get`` still shows it, in
        state UNKNOWN. Unknown ids are skipped.

        Returns:
            How many stored tasks were deleted.
        """
        ...

    async def replay_dead(self, limit: int) -> int:
        """Move up to ``limit`` dead-letter tasks, oldest first, back to their queues,
        ready now (attempts are kept: a task past its retries runs once more).
        Entries whose task is gone are dropped from the DLQ and not counted.

        Returns:
            How many tasks were replayed.
        """
        ...

    async def restore(self, records: Sequence[DurableTaskRecord]) -> int:
        """Write each task back as its record says (a snapshot import), replacing a task
        stored under the same id: every field, attempts and payload bytes kept.
        READY queues behind its peers; DELAYED waits until ``ready_at``; PROCESSING is
        held by no worker and comes back at ``lease_expires_at`` (now when unset), its
        attempt counted; DEAD joins the DLQ's oldest end (restore the DLQ newest first
        to keep its order); UNKNOWN is restored as READY. The idempotency key points
        at the task again. Atomic per task.

        Returns:
            How many tasks were restored.
        """
        ...
