"""Durable tasks, their leases, the records operators read, and the rules every backend applies to them."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from pyworker.domain.duration import to_epoch, to_ms, to_seconds
from pyworker.domain.errors import DurablePayloadError, InvalidTaskError
from pyworker.domain.scheduling import normalize_queue, normalize_weight

#: How long a dequeued task stays leased when no lease is given (go-worker's default).
DEFAULT_LEASE = 30.0
#: How long an idempotency key keeps deduplicating after its task is acked.
DEFAULT_IDEMPOTENCY_TTL = 24 * 3600.0
#: The largest task weight a backend stores (Redis ranks hold it in 10 digits, inverted).
MAX_DURABLE_WEIGHT = 2**31 - 1
#: Records per ``list_tasks`` page when no limit is given, and the most one page holds.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _frozen_metadata(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class DurableTask:
    """A task persisted in a durable backend and run by any worker node.

    ``message`` is the decoded payload (what the handler receives); ``payload``
    is its encoded bytes. At least one must be given at registration.
    """

    handler: str
    message: Any = None
    payload: bytes | None = None
    id: uuid.UUID | None = None
    priority: int = 0
    run_at: float | None = attrs.field(default=None, converter=to_epoch)
    queue: str = ""
    weight: int = 0
    retries: int = 0
    retry_delay: float = attrs.field(default=0.0, converter=to_seconds)
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_metadata)
    idempotency_key: str = ""
    name: str = ""


@attrs.frozen
class DurableLease:
    """A task handed to one worker until ``expires_at``.

    ``token`` fences the lease: ack, nack, fail and extend must present it, and
    a token from an earlier dequeue of the same task is refused.
    """

    task: DurableTask
    token: str
    attempts: int
    max_retries: int
    expires_at: float

    @property
    def task_id(self) -> uuid.UUID:
        assert self.task.id is not None
        return self.task.id


_new = object.__new__


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The ``__set__`` of each named slot of an attrs class: what its own ``__init__`` ends
    up calling for each field, without the frozen ``__setattr__`` or the converters.
    """
    assert names == tuple(field.name for field in attrs.fields(cls)), "every field, in order"
    return tuple(cls.__dict__[name].__set__ for name in names)


(_task_handler, _task_message, _task_payload, _task_id, _task_priority, _task_run_at, _task_queue, _task_weight,
 _task_retries, _task_retry_delay, _task_metadata, _task_idempotency_key, _task_name) = _slot_setters(
    DurableTask, ("handler", "message", "payload", "id", "priority", "run_at", "queue", "weight", "retries",
                  "retry_delay", "metadata", "idempotency_key", "name"))  # fmt: skip
(_lease_task, _lease_token, _lease_attempts, _lease_max_retries, _lease_expires_at) = _slot_setters(
    DurableLease, ("task", "token", "attempts", "max_retries", "expires_at"))  # fmt: skip


def stored_task(
    handler: str,
    payload: bytes,
    task_id: uuid.UUID,
    priority: int,
    run_at: float | None,
    queue: str,
    weight: int,
    retries: int,
    retry_delay: float,
    metadata: Mapping[str, str],
    idempotency_key: str,
    name: str,
) -> DurableTask:
    """A DurableTask from values a backend stored and reads back (a dequeue's hot path).

    The values went through the converters when the task was enqueued, and the adapter
    hands over the exact types (floats, a fresh dict, ``message`` None), so none run
    again: this is ``DurableTask(...)`` for trusted input, at about half the cost.
    """
    task: DurableTask = _new(DurableTask)
    _task_handler(task, handler)
    _task_message(task, None)
    _task_payload(task, payload)
    _task_id(task, task_id)
    _task_priority(task, priority)
    _task_run_at(task, run_at)
    _task_queue(task, queue)
    _task_weight(task, weight)
    _task_retries(task, retries)
    _task_retry_delay(task, retry_delay)
    _task_metadata(task, metadata)
    _task_idempotency_key(task, idempotency_key)
    _task_name(task, name)
    return task


def stored_lease(task: DurableTask, token: str, attempts: int, max_retries: int, expires_at: float) -> DurableLease:
    """A DurableLease from a backend's dequeue reply, as ``stored_task`` builds its task."""
    lease: DurableLease = _new(DurableLease)
    _lease_task(lease, task)
    _lease_token(lease, token)
    _lease_attempts(lease, attempts)
    _lease_max_retries(lease, max_retries)
    _lease_expires_at(lease, expires_at)
    return lease


class DurableState(enum.Enum):
    """Where a durable task is, as an operator sees it."""

    READY = "ready"
    DELAYED = "delayed"
    PROCESSING = "processing"
    DEAD = "dead"
    UNKNOWN = "unknown"


@attrs.frozen
class DurableTaskRecord:
    """A stored durable task as the read operations return it (payload included)."""

    id: uuid.UUID
    handler: str
    queue: str
    state: DurableState
    priority: int = 0
    weight: int = 1
    retries: int = 0
    retry_delay: float = 0.0
    attempts: int = 0
    ready_at: float | None = None
    updated_at: float | None = None
    lease_expires_at: float | None = None
    last_error: str = ""
    failed_at: float | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_metadata)
    idempotency_key: str = ""
    payload: bytes = b""
    cancel_requested: str = ""
    cancelled_at: float | None = None

    @property
    def cancelled(self) -> bool:
        """Dead-lettered by a cancellation (docs/cluster.md#cancellation), not by a failure."""
        return self.state is DurableState.DEAD and self.cancelled_at is not None


@attrs.frozen
class QueueStats:
    """Counts for one durable queue."""

    queue: str
    ready: int = 0
    delayed: int = 0
    processing: int = 0
    paused: bool = False


@attrs.frozen
class DurableStats:
    """Counts for a whole durable backend."""

    queues: tuple[QueueStats, ...] = ()
    dead: int = 0
    paused: bool = False

    @property
    def total_ready(self) -> int:
        return sum(q.ready for q in self.queues)

    @property
    def total_delayed(self) -> int:
        return sum(q.delayed for q in self.queues)

    @property
    def total_processing(self) -> int:
        return sum(q.processing for q in self.queues)


@attrs.frozen
class DurableTaskPage:
    """One page of ``list_tasks``: the records, and where the next page starts.

    ``next_cursor`` is None when nothing follows; otherwise pass it back as
    ``cursor`` for the next page. A page may hold fewer records than asked for
    while ``next_cursor`` is set: keep going until it is None.
    """

    records: tuple[DurableTaskRecord, ...] = ()
    next_cursor: str | None = None


#: The states ``list_tasks`` can list (UNKNOWN is only ever read back, never listed).
LISTABLE_STATES = (DurableState.READY, DurableState.DELAYED, DurableState.PROCESSING, DurableState.DEAD)


def check_enqueueable(task: DurableTask) -> uuid.UUID:
    """The task's id; raises when the task lacks what a backend must store.

    Raises:
        InvalidTaskError: no id or no handler.
        DurablePayloadError: no payload.
    """
    if task.id is None:
        raise InvalidTaskError(reason="durable task id is required")
    if not task.handler:
        raise InvalidTaskError(reason="durable task handler is required")
    if task.payload is None:
        raise DurablePayloadError(reason="durable task payload is required")
    return task.id


def durable_weight(weight: int) -> int:
    """A task weight as a backend stores it: <= 0 becomes 1, capped at MAX_DURABLE_WEIGHT."""
    return min(normalize_weight(weight), MAX_DURABLE_WEIGHT)


def storable_task(task: DurableTask, default_queue: str) -> DurableTask:
    """The task as a backend stores it: checked (``check_enqueueable``), blank queue
    made ``default_queue`` (``normalize_queue``), weight from ``durable_weight``, and
    the decoded ``message`` dropped (the payload is what is stored). An adapter that
    encodes the fields itself applies those same functions.
    """
    check_enqueueable(task)
    return attrs.evolve(
        task, queue=normalize_queue(task.queue, default_queue), weight=durable_weight(task.weight), message=None
    )


def ready_at_ms(task: DurableTask, now_ms: int) -> int:
    """When an enqueued task may first be dequeued: its ``run_at``, never before now."""
    return max(to_ms(task.run_at), now_ms) if task.run_at is not None else now_ms


def effective_lease(seconds: float) -> float:
    """A lease or extension length; <= 0 means DEFAULT_LEASE."""
    return seconds if seconds > 0 else DEFAULT_LEASE


def failure_text(error: str | BaseException) -> str:
    """The error text a dead-lettered task keeps: an exception's message, or its
    type's name when the message is empty.
    """
    if isinstance(error, str):
        return error
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not lose the failure
        text = ""
    return text or type(error).__name__


def listable_state(state: DurableState | str) -> DurableState:
    """The state ``list_tasks`` is asked for, as a DurableState.

    Raises:
        InvalidTaskError: not one of ready, delayed, processing, dead.
    """
    parsed: DurableState | None = state if isinstance(state, DurableState) else None
    if isinstance(state, str):
        parsed = next((s for s in LISTABLE_STATES if s.value == state.strip().lower()), None)
    if parsed not in LISTABLE_STATES:
        shown = state.value if isinstance(state, DurableState) else state
        expected = ", ".join(s.value for s in LISTABLE_STATES)
        raise InvalidTaskError(reason=f"cannot list durable tasks in state {shown!r}; expected one of {expected}")
    assert parsed is not None
    return parsed


def page_window(limit: int, cursor: str | None) -> tuple[int, int]:
    """(start, size) of the page ``list_tasks(limit=..., cursor=...)`` asks for.

    A cursor is the position, in the listing's order, where the page starts (an
    opaque string to callers: only pass back a ``next_cursor``). ``limit`` above
    MAX_PAGE_SIZE is served as pages of MAX_PAGE_SIZE.

    Raises:
        InvalidTaskError: limit < 1, or a cursor no listing returned.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidTaskError(reason=f"list limit must be a positive integer, got {limit!r}")
    start = 0
    if cursor is not None:
        if not (isinstance(cursor, str) and cursor.isascii() and cursor.isdigit()):
            raise InvalidTaskError(reason=f"invalid list cursor {cursor!r}")
        start = int(cursor)
    return start, min(limit, MAX_PAGE_SIZE)


def cursor_at(position: int | None) -> str | None:
    """The ``next_cursor`` for a page followed by more at ``position`` (None: nothing follows)."""
    return None if position is None else str(position)
