"""The error hierarchy: every error pyworker raises derives from WorkerError."""

from __future__ import annotations

import uuid
from typing import ClassVar

import attrs


@attrs.define(auto_exc=True, eq=False)
class WorkerError(Exception):
    """Root of every pyworker error.

    Each subclass names its data as attrs fields and sets ``template``, its message
    as a ``str.format`` pattern over those fields (``"task {task_id} not found"``);
    ``message`` and ``str()`` are that pattern filled in.
    """

    template: ClassVar[str] = "worker error"

    @property
    def message(self) -> str:
        return self.template.format_map({field.name: getattr(self, field.name) for field in attrs.fields(type(self))})

    def __str__(self) -> str:
        return self.message


@attrs.define(auto_exc=True, eq=False)
class InvalidTaskError(WorkerError, ValueError):
    """A task failed validation (no function, nil id, priority out of range, ...)."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class InvalidDurationError(WorkerError, TypeError):
    """A duration or an instant of the wrong type (seconds, timedelta and datetime are accepted)."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class TaskNotFoundError(WorkerError, LookupError):
    """No task with this id is known (never registered, or pruned by retention)."""

    template = "task {task_id} not found"
    task_id: uuid.UUID | str


@attrs.define(auto_exc=True, eq=False)
class RemoteTaskError(WorkerError):
    """A durable task failed (or was cancelled) on another node: its error, as text, as
    that node recorded it (docs/cluster.md#results).
    """

    template = "{reason}"
    reason: str
    node: str = ""


@attrs.define(auto_exc=True, eq=False)
class TaskAlreadyExistsError(WorkerError):
    """A task with this id is already registered."""

    template = "task {task_id} already exists"
    task_id: uuid.UUID | str


@attrs.define(auto_exc=True, eq=False)
class TaskCancelledError(WorkerError):
    """The task was cancelled (by cancel_task, cancel_all or stop_now)."""

    template = "task cancelled"
    task_id: uuid.UUID | str | None = None


@attrs.define(auto_exc=True, eq=False)
class TaskAlreadyStartedError(WorkerError):
    """The task is running or finished, so it cannot be started again."""

    template = "task already started"
    task_id: uuid.UUID | str | None = None


@attrs.define(auto_exc=True, eq=False)
class TaskCompletedError(WorkerError):
    """The task already reached a terminal status."""

    template = "task completed"
    task_id: uuid.UUID | str | None = None


@attrs.define(auto_exc=True, eq=False)
class TaskTimeoutError(WorkerError, TimeoutError):
    """An attempt ran past its deadline."""

    template = "task attempt exceeded its deadline ({timeout}s)"
    task_id: uuid.UUID | str | None = None
    timeout: float | None = None


@attrs.define(auto_exc=True, eq=False)
class QueueFullError(WorkerError):
    """The waiting-task capacity (max_tasks) is reached; nothing was enqueued."""

    template = "queue is full (max {max_tasks})"
    max_tasks: int


@attrs.define(auto_exc=True, eq=False)
class NotAcceptingTasksError(WorkerError):
    """The manager is stopping or stopped and refuses new tasks."""

    template = "task manager is not accepting new tasks"


@attrs.define(auto_exc=True, eq=False)
class InvalidTransitionError(WorkerError):
    """A status change that the transition table forbids."""

    template = "illegal status transition {source} -> {target}"
    source: object
    target: object


@attrs.define(auto_exc=True, eq=False)
class WaitTimeoutError(WorkerError, TimeoutError):
    """wait() / stop_graceful() ran out of time before every task finished."""

    template = "context done: timed out after {timeout}s waiting for tasks"
    timeout: float | None


@attrs.define(auto_exc=True, eq=False)
class ConfigurationError(WorkerError, ValueError):
    """The manager or an adapter was configured inconsistently."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class DurableModeError(WorkerError):
    """An in-memory call in durable mode, or a durable call without a backend."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class DurableLeaseNotFoundError(WorkerError):
    """The lease is gone or its token is stale (another worker holds the task now)."""

    template = "durable lease not found (task {task_id})"
    task_id: uuid.UUID | str
    token: str = ""


@attrs.define(auto_exc=True, eq=False)
class DurableCancelRequestedError(WorkerError):
    """A lease renewal found the task's cancellation requested (docs/cluster.md#cancellation):
    the lease was still renewed, and its holder should cancel the attempt and fail it.
    """

    template = "durable task {task_id} cancel requested: {reason}"
    task_id: uuid.UUID | str
    reason: str = ""


@attrs.define(auto_exc=True, eq=False)
class DurableTaskExistsError(WorkerError):
    """A durable task with this id is already stored."""

    template = "durable task already exists (task {task_id})"
    task_id: uuid.UUID | str


@attrs.define(auto_exc=True, eq=False)
class DurableHandlerNotRegisteredError(WorkerError, LookupError):
    """No durable handler is registered under this name."""

    template = "durable handler not registered: {handler!r}"
    handler: str


@attrs.define(auto_exc=True, eq=False)
class DurablePayloadError(WorkerError, ValueError):
    """A durable payload is missing, or cannot be encoded or decoded."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class CodecError(WorkerError, ValueError):
    """A codec could not encode or decode a message."""

    template = "{reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class BackendUnavailableError(WorkerError, ConnectionError):
    """The durable backend cannot be reached; the operation did not happen."""

    template = "durable backend unavailable: {reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class FacadeClosedError(WorkerError, RuntimeError):
    """The BlockingTaskManager was stopped; its loop no longer runs."""

    template = "BlockingTaskManager is closed"


@attrs.define(auto_exc=True, eq=False)
class HandlerRegistryError(WorkerError):
    """Base of the typed-registry errors."""

    template = "{reason}"
    reason: str = "handler registry error"


@attrs.define(auto_exc=True, eq=False)
class HandlerNameRequiredError(HandlerRegistryError):
    """A handler was registered without a name."""

    reason: str = "handler name is required"


@attrs.define(auto_exc=True, eq=False)
class HandlerSpecInvalidError(HandlerRegistryError):
    """A handler spec lacks its make or fn."""

    reason: str = "handler spec is invalid: make and fn are required"


@attrs.define(auto_exc=True, eq=False)
class HandlerAlreadyRegisteredError(HandlerRegistryError):
    """A handler name is registered twice."""

    template = "handler already registered: {name!r}"
    name: str = ""


@attrs.define(auto_exc=True, eq=False)
class HandlerPayloadTypeMismatchError(HandlerRegistryError):
    """A typed handler got a payload of another type."""

    template = "handler payload type mismatch: expected {expected}, got {got}"
    expected: str = ""
    got: str = ""
