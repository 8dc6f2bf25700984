"""The error hierarchy: every error pyworker raises derives from WorkerError."""

from __future__ import annotations

import uuid

import attrs


@attrs.define(auto_exc=True, eq=False)
class WorkerError(Exception):
    """Root of every pyworker error."""

    @property
    def message(self) -> str:
        return "worker error"

    def __str__(self) -> str:
        return self.message


@attrs.define(auto_exc=True, eq=False)
class InvalidTaskError(WorkerError, ValueError):
    """A task failed validation (no function, nil id, priority out of range, ...)."""

    reason: str

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, eq=False)
class TaskNotFoundError(WorkerError, LookupError):
    """No task with this id is known (never registered, or pruned by retention)."""

    task_id: uuid.UUID | str

    @property
    def message(self) -> str:
        return f"task {self.task_id} not found"


@attrs.define(auto_exc=True, eq=False)
class TaskAlreadyExistsError(WorkerError):
    """A task with this id is already registered."""

    task_id: uuid.UUID | str

    @property
    def message(self) -> str:
        return f"task {self.task_id} already exists"


@attrs.define(auto_exc=True, eq=False)
class TaskCancelledError(WorkerError):
    """The task was cancelled (by cancel_task, cancel_all or stop_now)."""

    task_id: uuid.UUID | str | None = None

    @property
    def message(self) -> str:
        return "task cancelled"


@attrs.define(auto_exc=True, eq=False)
class TaskAlreadyStartedError(WorkerError):
    """The task is running or finished, so it cannot be started again."""

    task_id: uuid.UUID | str | None = None

    @property
    def message(self) -> str:
        return "task already started"


@attrs.define(auto_exc=True, eq=False)
class TaskCompletedError(WorkerError):
    """The task already reached a terminal status."""

    task_id: uuid.UUID | str | None = None

    @property
    def message(self) -> str:
        return "task completed"


@attrs.define(auto_exc=True, eq=False)
class TaskTimeoutError(WorkerError, TimeoutError):
    """An attempt ran past its deadline."""

    task_id: uuid.UUID | str | None = None
    timeout: float | None = None

    @property
    def message(self) -> str:
        return f"task attempt exceeded its deadline ({self.timeout}s)"


@attrs.define(auto_exc=True, eq=False)
class QueueFullError(WorkerError):
    """The waiting-task capacity (max_tasks) is reached; nothing was enqueued."""

    max_tasks: int

    @property
    def message(self) -> str:
        return f"queue is full (max {self.max_tasks})"


@attrs.define(auto_exc=True, eq=False)
class NotAcceptingTasksError(WorkerError):
    """The manager is stopping or stopped and refuses new tasks."""

    @property
    def message(self) -> str:
        return "task manager is not accepting new tasks"


@attrs.define(auto_exc=True, eq=False)
class InvalidTransitionError(WorkerError):
    """A status change that the transition table forbids."""

    source: object
    target: object

    @property
    def message(self) -> str:
        return f"illegal status transition {self.source} -> {self.target}"


@attrs.define(auto_exc=True, eq=False)
class WaitTimeoutError(WorkerError, TimeoutError):
    """wait() / stop_graceful() ran out of time before every task finished."""

    timeout: float | None

    @property
    def message(self) -> str:
        return f"context done: timed out after {self.timeout}s waiting for tasks"


@attrs.define(auto_exc=True, eq=False)
class ConfigurationError(WorkerError, ValueError):
    """The manager or an adapter was configured inconsistently."""

    reason: str

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, eq=False)
class DurableModeError(WorkerError):
    """An in-memory call in durable mode, or a durable call without a backend."""

    reason: str

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, eq=False)
class DurableLeaseNotFoundError(WorkerError):
    """The lease is gone or its token is stale (another worker holds the task now)."""

    task_id: uuid.UUID | str
    token: str = ""

    @property
    def message(self) -> str:
        return f"durable lease not found (task {self.task_id})"


@attrs.define(auto_exc=True, eq=False)
class DurableTaskExistsError(WorkerError):
    """A durable task with this id is already stored."""

    task_id: uuid.UUID | str

    @property
    def message(self) -> str:
        return f"durable task already exists (task {self.task_id})"


@attrs.define(auto_exc=True, eq=False)
class DurableHandlerNotRegisteredError(WorkerError, LookupError):
    """No durable handler is registered under this name."""

    handler: str

    @property
    def message(self) -> str:
        return f"durable handler not registered: {self.handler!r}"


@attrs.define(auto_exc=True, eq=False)
class DurablePayloadError(WorkerError, ValueError):
    """A durable payload is missing, or cannot be encoded or decoded."""

    reason: str

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, eq=False)
class CodecError(WorkerError, ValueError):
    """A codec could not encode or decode a message."""

    reason: str

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, eq=False)
class BackendUnavailableError(WorkerError, ConnectionError):
    """The durable backend cannot be reached; the operation did not happen."""

    reason: str

    @property
    def message(self) -> str:
        return f"durable backend unavailable: {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class HandlerRegistryError(WorkerError):
    """Base of the typed-registry errors."""

    reason: str = "handler registry error"

    @property
    def message(self) -> str:
        return self.reason


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

    name: str = ""

    @property
    def message(self) -> str:
        return f"handler already registered: {self.name!r}"


@attrs.define(auto_exc=True, eq=False)
class HandlerPayloadTypeMismatchError(HandlerRegistryError):
    """A typed handler got a payload of another type."""

    expected: str = ""
    got: str = ""

    @property
    def message(self) -> str:
        return f"handler payload type mismatch: expected {self.expected}, got {self.got}"
