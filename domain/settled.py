"""How a durable task ended, across nodes: the outcome the store keeps and publishes, and cancellation."""

from __future__ import annotations

import enum
import uuid

import attrs

from pyworker.domain.status import TaskStatus

#: How long a durable task's outcome is kept after it settles (RQ keeps a result 500 s), and
#: the approximate cap on the results stream (docs/cluster.md#results).
DEFAULT_RESULT_TTL = 600.0
DEFAULT_RESULTS_MAX_LEN = 10_000

#: The statuses a durable outcome can record.
OUTCOME_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.CONTEXT_DEADLINE_REACHED}
)


@attrs.frozen
class DurableOutcome:
    """How a durable task settled, as the store keeps it for ``result_ttl`` and publishes
    it on the results stream, for every node to read (docs/cluster.md#results).

    Attributes:
        id: the task's id.
        status: COMPLETED (acked), FAILED or CANCELLED (dead-lettered), or
            CONTEXT_DEADLINE_REACHED (dead-lettered after its last attempt timed out).
        output: the result's string form ("" for None), as gRPC's ``output``.
        error: the error text ("" on success).
        attempts: attempts made, on every node.
        node: the id of the node that settled it.
        handler: the durable handler's name.
        finished_at: when it settled (epoch seconds, the settling node's clock).
    """

    id: uuid.UUID
    status: TaskStatus
    output: str = ""
    error: str = ""
    attempts: int = 0
    node: str = ""
    handler: str = ""
    finished_at: float = 0.0


def outcome_status(name: str) -> TaskStatus:
    """A stored status name (the wire name: ``Completed``, ``Failed``, ...) as a TaskStatus;
    anything unknown reads as FAILED (a record is only ever written for a settled task).
    """
    status = TaskStatus.from_wire(name)
    return status if status in OUTCOME_STATUSES else TaskStatus.FAILED


class CancelOutcome(enum.Enum):
    """What ``DurableQueue.cancel`` did to a stored task (docs/cluster.md#cancellation)."""

    #: It was waiting (ready or delayed): taken out and dead-lettered as cancelled.
    WITHDRAWN = "withdrawn"
    #: It is leased: flagged, and its holding node told; that node finishes it Cancelled.
    FLAGGED = "flagged"
    #: It was already over (dead-lettered, or deleted by an operator): nothing changed.
    ALREADY_DONE = "already_done"


#: The reason a cancellation records when the caller gives none.
DEFAULT_CANCEL_REASON = "cancelled by operator"


def cancel_text(reason: str) -> str:
    """The ``last_error`` of a cancelled durable task: go-worker's ``task cancelled`` (its
    ErrTaskCancelled, what a cancel without a reason always wrote) for the default reason,
    ``task cancelled: <reason>`` for any other (adapters/redis/lua/cancel_text.lua spells it alike).
    """
    if not reason or reason == DEFAULT_CANCEL_REASON:
        return "task cancelled"
    return f"task cancelled: {reason}"
