"""Task statuses and the one transition table that governs them."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from pyworker.domain.errors import InvalidTransitionError


class TaskStatus(enum.IntEnum):
    """A task's lifecycle state; values are go-worker's, names say what they mean."""

    UNKNOWN = 0
    CONTEXT_DEADLINE_REACHED = 1
    WAITING_RETRY = 2
    CANCELLED = 3
    FAILED = 4
    QUEUED = 5
    RUNNING = 6
    INVALID = 7
    COMPLETED = 8
    # go-worker's name for WAITING_RETRY ("in retry backoff"; not rate limiting).
    RATE_LIMITED = 2

    @property
    def wire_name(self) -> str:
        """The name go-worker puts on the wire (gRPC GetTask, results)."""
        return _WIRE_NAMES[self]

    @property
    def is_terminal(self) -> bool:
        return bool(TERMINAL_MASK & (1 << self))

    @classmethod
    def from_wire(cls, name: str) -> TaskStatus:
        """Parse a wire name; unknown names map to UNKNOWN."""
        return _BY_WIRE_NAME.get(name, cls.UNKNOWN)

    def __str__(self) -> str:
        return self.wire_name


_WIRE_NAMES: Mapping[TaskStatus, str] = {
    TaskStatus.UNKNOWN: "Unknown",
    TaskStatus.CONTEXT_DEADLINE_REACHED: "ContextDeadlineReached",
    TaskStatus.WAITING_RETRY: "RateLimited",
    TaskStatus.CANCELLED: "Cancelled",
    TaskStatus.FAILED: "Failed",
    TaskStatus.QUEUED: "Queued",
    TaskStatus.RUNNING: "Running",
    TaskStatus.INVALID: "Invalid",
    TaskStatus.COMPLETED: "Completed",
}
_BY_WIRE_NAME = {wire: status for status, wire in _WIRE_NAMES.items()}

TERMINAL_STATUSES = frozenset(
    {
        TaskStatus.CONTEXT_DEADLINE_REACHED,
        TaskStatus.CANCELLED,
        TaskStatus.FAILED,
        TaskStatus.INVALID,
        TaskStatus.COMPLETED,
    }
)

_FINISHES = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CONTEXT_DEADLINE_REACHED,
        TaskStatus.CANCELLED,
    }
)

#: The only legal moves. Terminal statuses have no outgoing edge.
TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    # A new task is validated and queued; a durable lease starts running directly.
    TaskStatus.UNKNOWN: frozenset(
        {TaskStatus.QUEUED, TaskStatus.INVALID, TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED}
    ),
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.RUNNING: _FINISHES | {TaskStatus.WAITING_RETRY},
    TaskStatus.WAITING_RETRY: frozenset(
        {TaskStatus.QUEUED, TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.CONTEXT_DEADLINE_REACHED}
    ),
    TaskStatus.CONTEXT_DEADLINE_REACHED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.INVALID: frozenset(),
    TaskStatus.COMPLETED: frozenset(),
}


#: TRANSITIONS as bit masks indexed by status value: the hot path avoids Enum.__hash__.
ALLOWED_MASKS: tuple[int, ...] = tuple(
    sum(1 << int(target) for target in TRANSITIONS[TaskStatus(value)]) for value in range(len(_WIRE_NAMES))
)
TERMINAL_MASK = sum(1 << int(status) for status in TERMINAL_STATUSES)


def check_transition(source: TaskStatus, target: TaskStatus) -> bool:
    """Decide whether ``source -> target`` happens.

    Returns:
        True when the move is legal; False when ``source`` is terminal and
        ``target`` is terminal too (the first terminal transition wins, later
        ones are ignored).

    Raises:
        InvalidTransitionError: any other move the table does not list.
    """
    bit = 1 << target
    if ALLOWED_MASKS[source] & bit:
        return True
    if TERMINAL_MASK & (1 << source) and TERMINAL_MASK & bit:
        return False
    raise InvalidTransitionError(source=source, target=target)
