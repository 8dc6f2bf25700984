"""The error hierarchy: one root, builtin bases, and messages that carry their data."""

from __future__ import annotations

import inspect
import uuid

import pytest

from pyworker import domain
from pyworker.domain import errors
from pyworker.domain.errors import (
    BackendUnavailableError,
    CodecError,
    ConfigurationError,
    DurableCancelRequestedError,
    DurableHandlerNotRegisteredError,
    DurableLeaseNotFoundError,
    DurableModeError,
    DurablePayloadError,
    DurableTaskExistsError,
    FacadeClosedError,
    HandlerAlreadyRegisteredError,
    HandlerNameRequiredError,
    HandlerPayloadTypeMismatchError,
    HandlerRegistryError,
    HandlerSpecInvalidError,
    InvalidDurationError,
    InvalidTaskError,
    InvalidTransitionError,
    NotAcceptingTasksError,
    QueueFullError,
    RemoteTaskError,
    TaskAlreadyExistsError,
    TaskAlreadyStartedError,
    TaskCancelledError,
    TaskCompletedError,
    TaskNotFoundError,
    TaskTimeoutError,
    WaitTimeoutError,
    WorkerError,
)
from pyworker.domain.status import TaskStatus

TASK_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")

INSTANCES: list[tuple[WorkerError, str]] = [
    (WorkerError(), "worker error"),
    (InvalidTaskError(reason="invalid task id"), "invalid task id"),
    (InvalidDurationError(reason="expected seconds, got str"), "expected seconds, got str"),
    (TaskNotFoundError(task_id=TASK_ID), f"task {TASK_ID} not found"),
    (RemoteTaskError(reason="boom", node="node-b"), "boom"),
    (TaskAlreadyExistsError(task_id=TASK_ID), f"task {TASK_ID} already exists"),
    (TaskCancelledError(task_id=TASK_ID), "task cancelled"),
    (TaskAlreadyStartedError(), "task already started"),
    (TaskCompletedError(), "task completed"),
    (TaskTimeoutError(task_id=TASK_ID, timeout=2.5), "task attempt exceeded its deadline (2.5s)"),
    (QueueFullError(max_tasks=3), "queue is full (max 3)"),
    (NotAcceptingTasksError(), "task manager is not accepting new tasks"),
    (
        InvalidTransitionError(source=TaskStatus.COMPLETED, target=TaskStatus.RUNNING),
        "illegal status transition Completed -> Running",
    ),
    (WaitTimeoutError(timeout=1.0), "context done: timed out after 1.0s waiting for tasks"),
    (ConfigurationError(reason="max_workers must be positive"), "max_workers must be positive"),
    (DurableModeError(reason="durable backend required"), "durable backend required"),
    (DurableLeaseNotFoundError(task_id=TASK_ID, token="t"), f"durable lease not found (task {TASK_ID})"),
    (DurableTaskExistsError(task_id=TASK_ID), f"durable task already exists (task {TASK_ID})"),
    (
        DurableCancelRequestedError(task_id=TASK_ID, reason="operator"),
        f"durable task {TASK_ID} cancel requested: operator",
    ),
    (DurableHandlerNotRegisteredError(handler="send_email"), "durable handler not registered: 'send_email'"),
    (DurablePayloadError(reason="payload is required"), "payload is required"),
    (CodecError(reason="bad json"), "bad json"),
    (BackendUnavailableError(reason="connection refused"), "durable backend unavailable: connection refused"),
    (FacadeClosedError(), "BlockingTaskManager is closed"),
    (HandlerRegistryError(), "handler registry error"),
    (HandlerNameRequiredError(), "handler name is required"),
    (HandlerSpecInvalidError(), "handler spec is invalid: make and fn are required"),
    (HandlerAlreadyRegisteredError(name="send"), "handler already registered: 'send'"),
    (
        HandlerPayloadTypeMismatchError(expected="A", got="B"),
        "handler payload type mismatch: expected A, got B",
    ),
]


@pytest.mark.parametrize(("error", "message"), INSTANCES, ids=lambda v: type(v).__name__)
def test_message(error: WorkerError, message: str) -> None:
    assert str(error) == message
    assert error.message == message


@pytest.mark.parametrize(("error", "message"), INSTANCES, ids=lambda v: type(v).__name__)
def test_raisable_and_catchable_as_worker_error(error: WorkerError, message: str) -> None:
    with pytest.raises(WorkerError) as info:
        raise error
    assert info.value is error
    assert str(info.value) == message


def _error_classes() -> list[type[BaseException]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    ]


def test_every_error_derives_from_worker_error() -> None:
    classes = _error_classes()
    assert len(classes) >= 25
    for cls in classes:
        assert issubclass(cls, WorkerError), cls.__name__
        assert cls.__name__.endswith("Error"), cls.__name__


def test_every_error_class_has_a_message_case() -> None:
    assert {type(error) for error, _ in INSTANCES} == set(_error_classes())


def test_every_error_is_exported_from_domain() -> None:
    for cls in _error_classes():
        assert getattr(domain, cls.__name__) is cls


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (InvalidTaskError, ValueError),
        (InvalidDurationError, TypeError),
        (WaitTimeoutError, TimeoutError),
        (TaskTimeoutError, TimeoutError),
        (BackendUnavailableError, ConnectionError),
        (TaskNotFoundError, LookupError),
        (DurableHandlerNotRegisteredError, LookupError),
        (ConfigurationError, ValueError),
        (CodecError, ValueError),
        (DurablePayloadError, ValueError),
        (FacadeClosedError, RuntimeError),
    ],
)
def test_builtin_bases(cls: type[WorkerError], builtin: type[Exception]) -> None:
    assert issubclass(cls, builtin)
    assert issubclass(cls, WorkerError)


def test_builtin_base_catches_instance() -> None:
    with pytest.raises(ValueError, match=r"^invalid task function$"):
        raise InvalidTaskError(reason="invalid task function")
    with pytest.raises(TimeoutError):
        raise WaitTimeoutError(timeout=1.0)
    with pytest.raises(ConnectionError):
        raise BackendUnavailableError(reason="down")
    with pytest.raises(LookupError):
        raise TaskNotFoundError(task_id=TASK_ID)


def test_messages_come_from_the_root_and_a_template() -> None:
    """One message mechanism: no subclass builds its own text."""
    for cls in _error_classes():
        if cls is WorkerError:
            continue
        assert "message" not in vars(cls), cls.__name__
        assert "__str__" not in vars(cls), cls.__name__
        assert isinstance(vars(cls).get("template", ""), str), cls.__name__


def test_braces_in_field_values_are_kept_verbatim() -> None:
    assert str(HandlerAlreadyRegisteredError(name="a{b}")) == "handler already registered: 'a{b}'"
    assert str(ConfigurationError(reason="prefix {x} is used verbatim")) == "prefix {x} is used verbatim"


def test_facade_closed_error_is_still_importable_from_the_facade() -> None:
    from pyworker.application import blocking

    assert blocking.FacadeClosedError is FacadeClosedError


def test_registry_errors_share_a_base() -> None:
    for cls in (
        HandlerNameRequiredError,
        HandlerSpecInvalidError,
        HandlerAlreadyRegisteredError,
        HandlerPayloadTypeMismatchError,
    ):
        assert issubclass(cls, HandlerRegistryError)


def test_errors_carry_their_data() -> None:
    assert TaskNotFoundError(task_id=TASK_ID).task_id == TASK_ID
    assert QueueFullError(max_tasks=3).max_tasks == 3
    lease = DurableLeaseNotFoundError(task_id=TASK_ID, token="tok")
    assert (lease.task_id, lease.token) == (TASK_ID, "tok")


def test_task_not_found_mentions_string_id() -> None:
    assert "abc" in str(TaskNotFoundError(task_id="abc"))


def _translate(cause: OSError) -> None:
    try:
        raise cause
    except OSError as exc:
        raise BackendUnavailableError(reason=str(exc)) from exc


def test_chained_cause_is_kept() -> None:
    cause = OSError("refused")
    with pytest.raises(BackendUnavailableError) as info:
        _translate(cause)
    assert info.value.__cause__ is cause
    assert str(info.value) == "durable backend unavailable: refused"
