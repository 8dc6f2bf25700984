"""Durable outcomes across nodes: the read port (DurableResults) and outcome <-> Result conversions."""

from __future__ import annotations

import uuid
from typing import Any, Protocol, runtime_checkable

from pyworker.domain import DurableOutcome, RemoteTaskError, Result, Task, TaskStatus

__all__ = ["DurableResults", "DurableResultsProvider", "outcome_result", "output_text"]


@runtime_checkable
class DurableResults(Protocol):
    """The outcomes a durable store keeps (docs/cluster.md#results): one record per settled
    task for the configured TTL, and a bounded stream of them in settling order.

    A record and its stream entry are written in the same atomic step as the ack or
    fail that settles the task (``DurableQueue.configure_results``), so an outcome is
    never published for a task that was not settled, nor lost once it was.
    Technology errors surface as ``BackendUnavailableError``.
    """

    async def get_result(self, task_id: uuid.UUID) -> DurableOutcome | None:
        """The task's outcome, or None (never settled, not yet, or past the TTL)."""
        ...

    def results_cursor(self, at: float) -> str:
        """A cursor (computed without I/O) from which ``read_results`` returns every outcome
        recorded after ``at`` (epoch seconds, the caller's clock), and possibly a few
        recorded shortly before it: a store with a clock of its own reaches back by the
        skew it allows for (Redis: ``RedisDurableResults.skew``), never less.
        """
        ...

    async def read_results(
        self, cursor: str | None, max_wait: float, count: int
    ) -> tuple[str, list[DurableOutcome]]:
        """Up to ``count`` outcomes after ``cursor`` (None: from now on), waiting up to
        ``max_wait`` seconds for the first one; returns the cursor to read on from and
        the outcomes (an empty list when none came). Entries trimmed off the stream
        before they were read are skipped. Never blocks the queue's own calls.
        """
        ...

    async def close(self) -> None:
        """Release what reading opened (a connection); a later read may open it again.
        Idempotent. A manager calls it when it stops.
        """
        ...


@runtime_checkable
class DurableResultsProvider(Protocol):
    """A durable backend that keeps its tasks' outcomes (the in-memory and Redis backends)."""

    def results(self) -> DurableResults: ...


def output_text(result: Any) -> str:
    """A result as an outcome's ``output``: its string form, "" for None (as gRPC's ``output``)."""
    return "" if result is None else str(result)


def outcome_result(outcome: DurableOutcome) -> Result:
    """An outcome as the Result a subscriber receives: a terminal Task snapshot (id, name =
    handler, status, attempts), ``result`` the output text, ``error`` a RemoteTaskError
    with the recorded text (None on success).
    """
    task = Task(name=outcome.handler, id=outcome.id)
    task.restore_attempts(max(outcome.attempts - 1, 0))
    task.start(outcome.finished_at)  # the snapshot passes RUNNING, as every settled task did
    status = outcome.status
    error = None if status is TaskStatus.COMPLETED else RemoteTaskError(reason=outcome.error, node=outcome.node)
    task.finish(status, outcome.finished_at, outcome.output if error is None else None, error)
    return Result(task=task, result=task.result, error=error)
