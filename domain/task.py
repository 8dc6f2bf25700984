"""The in-memory Task, the context its function receives, and Result."""

from __future__ import annotations

import enum
import os
import threading
import types
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from pyworker.domain.duration import Duration, Instant, to_epoch, to_seconds
from pyworker.domain.errors import InvalidTaskError, InvalidTransitionError, TaskCancelledError
from pyworker.domain.status import ALLOWED_MASKS, TERMINAL_MASK, TaskStatus, check_transition

#: The range of the wire format's int32 priority.
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
NIL_UUID = uuid.UUID(int=0)
#: The shared, immutable default of Task.metadata (no dict per task).
EMPTY_METADATA: Mapping[str, str] = types.MappingProxyType({})

TaskFunction = Callable[["TaskContext"], Awaitable[Any] | Any]

# Guards the lazy creation of TaskContext events; wait() is rare, so one lock serves all.
_EVENT_LOCK = threading.Lock()

# uuid.uuid4() is UUID(bytes=os.urandom(16), version=4), and UUID.__init__'s argument
# checks were most of the cost of Task(). _fast_uuid4() sets the same version and
# variant bits on the same 16 random bytes and fills the two slots UUID.__init__ fills.
_UUID_SLOTS = ("int", "is_safe", "__weakref__")
_VERSION_4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_4_SET = (0x8000 << 48) | (4 << 76)
_SAFE_UNKNOWN = uuid.SafeUUID.unknown
_new_uuid = object.__new__
_set_int: Any = getattr(uuid.UUID.__dict__.get("int"), "__set__", None)
_set_is_safe: Any = getattr(uuid.UUID.__dict__.get("is_safe"), "__set__", None)


def _fast_uuid4() -> uuid.UUID:
    value = int.from_bytes(os.urandom(16)) & _VERSION_4_CLEAR | _VERSION_4_SET
    task_id = _new_uuid(uuid.UUID)
    _set_int(task_id, value)
    _set_is_safe(task_id, _SAFE_UNKNOWN)
    return task_id


#: A fresh random (version 4) UUID: exactly what ``uuid.uuid4()`` returns, built faster
#: (the stdlib's own where the uuid module's layout is not the one known here).
new_task_id: Callable[[], uuid.UUID] = (
    _fast_uuid4 if getattr(uuid.UUID, "__slots__", None) == _UUID_SLOTS else uuid.uuid4
)


class DropPolicy(enum.IntEnum):
    """What a full subscriber buffer does with a new result."""

    DROP_NEWEST = 0
    DROP_OLDEST = 1


# init=False: __init__ is written out (constants, not the attrs defaults looked up per
# call); tests/unit/domain/test_task.py checks it against the fields.
@attrs.define(slots=True, eq=False, init=False)
class TaskContext:
    """What a task function receives: who it is, which attempt, and a cancel signal.

    Sync functions run in a thread and poll ``cancelled`` (or block in ``wait``);
    coroutines are cancelled directly and need not poll.
    """

    task_id: uuid.UUID
    attempt: int
    deadline: float | None = None
    name: str = ""
    _cancelled: bool = attrs.field(default=False, init=False)
    # Created lazily (most attempts never block in wait()); see wait() for the race rule.
    _event: threading.Event | None = attrs.field(default=None, init=False)

    def __init__(self, task_id: uuid.UUID, attempt: int, deadline: float | None = None, name: str = "") -> None:
        self.task_id = task_id
        self.attempt = attempt
        self.deadline = deadline
        self.name = name
        self._cancelled = False
        self._event = None

    @property
    def cancelled(self) -> bool:
        """True once the attempt is cancelled or has passed its deadline."""
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        """Raise TaskCancelledError when the attempt should stop."""
        if self._cancelled:
            raise TaskCancelledError(task_id=self.task_id)

    def wait(self, timeout: float | None = None) -> bool:
        """Block (in a sync function) up to ``timeout`` s; True if cancelled meanwhile."""
        with _EVENT_LOCK:  # one Event even when several threads wait at once
            event = self._event
            if event is None:
                event = self._event = threading.Event()
        # The flag is read after the event exists; signal() sets the flag before
        # it reads the event, so one of the two always sees the other.
        if self._cancelled:
            return True
        return event.wait(timeout)

    def signal(self) -> None:
        """Mark the attempt cancelled (called by the manager)."""
        self._cancelled = True
        event = self._event
        if event is not None:
            event.set()


def _check_priority(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTaskError(reason=f"priority must be an int, got {type(value).__name__}")
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise InvalidTaskError(
            reason=f"priority {value} is outside the 32-bit range [{MIN_PRIORITY}, {MAX_PRIORITY}]"
        )


_UUID = uuid.UUID
_QUEUED = TaskStatus.QUEUED
_QUEUED_BIT = 1 << TaskStatus.QUEUED
_RUNNING = TaskStatus.RUNNING
_RUNNING_BIT = 1 << TaskStatus.RUNNING
_CANCELLED = TaskStatus.CANCELLED
_NEW_ID: Any = object()  # Task(id=...) not given: draw a fresh one


# on_setattr=NO_OP: no generated __setattr__ on the hot path; the manager
# re-validates at registration (Task.validate) what a caller may have reassigned.
# init=False: __init__ is written out below (one store per slot, the converters'
# common cases inline); tests/unit/domain/test_task.py checks it against the fields.
@attrs.define(slots=True, eq=False, repr=False, init=False, on_setattr=attrs.setters.NO_OP)
class Task:
    """A unit of in-process work. Scheduling fields are set by the caller; the
    status and outcome fields are owned by the manager and read through properties.

    ``priority`` must be an int in the int32 range (InvalidTaskError otherwise);
    ``retry_delay`` takes seconds or a timedelta and ``run_at`` epoch seconds or a
    datetime (InvalidDurationError otherwise); ``id`` defaults to a fresh uuid4.
    """

    execute: TaskFunction | None = None
    priority: int = 0
    queue: str = ""
    weight: int = 0
    retries: int = 0
    retry_delay: float = 0.0
    run_at: float | None = None
    name: str = ""
    description: str = ""
    id: uuid.UUID = attrs.field(factory=new_task_id)
    #: Caller-supplied labels (a durable task's metadata, gRPC metadata): visible to
    #: handlers' hooks, logs and spans. Read-only by convention.
    metadata: Mapping[str, str] = attrs.field(default=EMPTY_METADATA)
    #: Ties the task to the request that created it (logs, spans).
    correlation_id: str = ""
    # Owned by the manager.
    _status: TaskStatus = attrs.field(default=TaskStatus.UNKNOWN, init=False)
    _result: Any = attrs.field(default=None, init=False)
    _error: BaseException | None = attrs.field(default=None, init=False)
    _started_at: float | None = attrs.field(default=None, init=False)
    _completed_at: float | None = attrs.field(default=None, init=False)
    _cancelled_at: float | None = attrs.field(default=None, init=False)
    _attempts: int = attrs.field(default=0, init=False)

    def __init__(
        self,
        execute: TaskFunction | None = None,
        priority: int = 0,
        queue: str = "",
        weight: int = 0,
        retries: int = 0,
        retry_delay: Duration | None = 0.0,
        run_at: Instant | None = None,
        name: str = "",
        description: str = "",
        id: uuid.UUID = _NEW_ID,
        metadata: Mapping[str, str] = EMPTY_METADATA,
        correlation_id: str = "",
    ) -> None:
        if type(priority) is not int or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            _check_priority(self, None, priority)
        self.execute = execute
        self.priority = priority
        self.queue = queue
        self.weight = weight
        self.retries = retries
        self.retry_delay = retry_delay if type(retry_delay) is float else to_seconds(retry_delay)
        self.run_at = run_at if run_at is None or type(run_at) is float else to_epoch(run_at)
        self.name = name
        self.description = description
        self.id = new_task_id() if id is _NEW_ID else id
        self.metadata = metadata
        self.correlation_id = correlation_id
        self._status = TaskStatus.UNKNOWN
        self._result = None
        self._error = None
        self._started_at = None
        self._completed_at = None
        self._cancelled_at = None
        self._attempts = 0

    @property
    def status(self) -> TaskStatus:
        return self._status

    @property
    def result(self) -> Any:
        return self._result

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def started_at(self) -> float | None:
        """Epoch seconds when the latest attempt started."""
        return self._started_at

    @property
    def completed_at(self) -> float | None:
        return self._completed_at

    @property
    def cancelled_at(self) -> float | None:
        return self._cancelled_at

    @property
    def attempts(self) -> int:
        """How many attempts have started."""
        return self._attempts

    @property
    def terminal_at(self) -> float | None:
        """When the task reached its terminal status (what retention ages by)."""
        if self._status is TaskStatus.CANCELLED:
            return self._cancelled_at
        return self._completed_at

    def validate(self) -> None:
        """Raise InvalidTaskError for a nil id or a missing function
        (docs/task-manager.md#tasks-task-functions-and-taskcontext)."""
        task_id = self.id
        if (type(task_id) is not _UUID and not isinstance(task_id, _UUID)) or not task_id.int:
            raise InvalidTaskError(reason="invalid task id")
        fn = self.execute
        if fn is None or not callable(fn):
            raise InvalidTaskError(reason="invalid task function")
        priority = self.priority
        if type(priority) is not int or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            _check_priority(self, None, priority)

    def mark_queued(self) -> None:
        """``transition(QUEUED, now)``, which records no time: a registration or the end
        of a retry's backoff. Raises InvalidTransitionError from any other status.
        """
        status = self._status
        if not ALLOWED_MASKS[status] & _QUEUED_BIT:
            check_transition(status, _QUEUED)  # raises: QUEUED is not terminal
        self._status = _QUEUED

    def start(self, now: float) -> int:
        """``transition(RUNNING, now)``: an attempt begins; returns its number (``attempts``).
        Raises InvalidTransitionError from a status that cannot run.
        """
        status = self._status
        if not ALLOWED_MASKS[status] & _RUNNING_BIT:
            check_transition(status, _RUNNING)  # raises: RUNNING is not terminal
        self._status = _RUNNING
        self._started_at = now
        attempts = self._attempts = self._attempts + 1
        return attempts

    def transition(self, target: TaskStatus, now: float) -> bool:
        """Move to ``target`` by the transition table.

        Returns False when the task is already terminal and ``target`` is too
        (the first terminal transition wins). Raises InvalidTransitionError for
        any other illegal move.
        """
        status = self._status
        if not ALLOWED_MASKS[status] & (1 << target) and not check_transition(status, target):
            return False
        self._status = target
        if target is _RUNNING:
            self._started_at = now
            self._attempts += 1
        elif target is _CANCELLED:
            self._cancelled_at = now
        elif TERMINAL_MASK & (1 << target):
            self._completed_at = now
        return True

    def finish(self, target: TaskStatus, now: float, result: Any, error: BaseException | None) -> bool:
        """Terminal transition that records the outcome; False if already terminal."""
        # transition(target, now), inlined: this runs once per task.
        status = self._status
        if not ALLOWED_MASKS[status] & (1 << target) and not check_transition(status, target):
            return False
        self._status = target
        if target is _CANCELLED:
            self._cancelled_at = now
        elif TERMINAL_MASK & (1 << target):
            self._completed_at = now
        elif target is _RUNNING:
            self._started_at = now
            self._attempts += 1
        self._result = result
        self._error = error
        return True

    def restore_attempts(self, attempts: int) -> None:
        """A durable redelivery: ``attempts`` were already made (on any node)."""
        if self._status is not TaskStatus.UNKNOWN:
            raise InvalidTransitionError(source=self._status, target=TaskStatus.RUNNING)
        self._attempts = max(attempts, 0)

    def mark_invalid(self, error: BaseException) -> None:
        self._status = TaskStatus.INVALID
        self._error = error

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Task {self.id}{label} priority={self.priority} queue={self.queue!r} status={self._status}>"


@attrs.frozen
class Result:
    """What subscribers receive when a task reaches its terminal status."""

    task: Task
    result: Any = None
    error: BaseException | None = None

    @property
    def status(self) -> TaskStatus:
        return self.task.status

    def __str__(self) -> str:
        return f"Task: {self.task!r}, Result: {self.result}, Error: {self.error}"
