"""Task validation and construction, TaskContext cancellation, Result rendering."""

from __future__ import annotations

import datetime as dt
import inspect
import os
import pickle
import threading
import time
import uuid
from collections.abc import Iterator

import attrs
import pytest

from pyworker.domain import task as task_module
from pyworker.domain.errors import InvalidDurationError, InvalidTaskError, TaskCancelledError
from pyworker.domain.task import MAX_PRIORITY, MIN_PRIORITY, Result, Task, TaskContext


def _fn(ctx: TaskContext) -> str:
    return "ok"


async def _async_fn(ctx: TaskContext) -> str:
    return "ok"


def test_valid_task_passes_validation() -> None:
    Task(execute=_fn).validate()
    Task(execute=_async_fn).validate()


def test_default_id_is_a_fresh_uuid() -> None:
    first, second = Task(execute=_fn), Task(execute=_fn)
    assert isinstance(first.id, uuid.UUID)
    assert first.id != uuid.UUID(int=0)
    assert first.id != second.id


def test_default_id_is_what_uuid4_makes_of_the_same_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # new_task_id skips UUID.__init__; the same 16 bytes must give the same UUID, in full.
    for raw in (b"\x00" * 16, b"\xff" * 16, bytes(range(16)), os.urandom(16)):
        monkeypatch.setattr(os, "urandom", lambda size, raw=raw: raw[:size])
        expected, made = uuid.uuid4(), task_module.new_task_id()
        default = Task(execute=_fn).id
        for value in (made, default):
            assert type(value) is uuid.UUID
            assert (value, value.int, value.is_safe, str(value)) == (
                expected, expected.int, expected.is_safe, str(expected))
            assert (value.version, value.variant, hash(value)) == (4, uuid.RFC_4122, hash(expected))
            assert pickle.loads(pickle.dumps(value)) == expected


def test_the_fast_id_is_in_use_where_the_uuid_layout_is_known() -> None:
    # The fallback (uuid.uuid4 itself) is chosen only for a uuid module laid out otherwise.
    known = getattr(uuid.UUID, "__slots__", None) == ("int", "is_safe", "__weakref__")
    assert task_module.new_task_id is (task_module._fast_uuid4 if known else uuid.uuid4)


@pytest.mark.parametrize(
    ("cls", "required"), [(Task, {}), (TaskContext, {"task_id": uuid.UUID(int=7), "attempt": 2})]
)
def test_init_takes_the_attrs_fields_with_their_defaults(cls: type, required: dict[str, object]) -> None:
    # Task.__init__ and TaskContext.__init__ are written out by hand: each must take every
    # init field of the attrs declaration, in order, with the declared default (Task.id:
    # a fresh one), and set every other field to its default.
    fields = [field for field in attrs.fields(cls) if field.init]
    params = list(inspect.signature(cls).parameters.values())
    assert [param.name for param in params] == [field.name for field in fields]
    for param, field in zip(params, fields, strict=True):
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            assert (cls, field.name) == (Task, "id")
        elif field.name not in required:
            assert param.default == field.default, field.name
    made = cls(**required)
    for field in attrs.fields(cls):
        if field.name in required:
            assert getattr(made, field.name) == required[field.name]
        elif not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            assert getattr(made, field.name) == field.default, field.name


def test_nil_uuid_is_an_invalid_task_id() -> None:
    task = Task(execute=_fn, id=uuid.UUID(int=0))
    with pytest.raises(InvalidTaskError, match=r"^invalid task id$"):
        task.validate()


def test_non_uuid_id_is_an_invalid_task_id() -> None:
    task = Task(execute=_fn, id="not-a-uuid")  # type: ignore[arg-type]
    with pytest.raises(InvalidTaskError, match=r"^invalid task id$"):
        task.validate()


def test_missing_function_is_invalid() -> None:
    with pytest.raises(InvalidTaskError, match=r"^invalid task function$"):
        Task().validate()


def test_non_callable_function_is_invalid() -> None:
    with pytest.raises(InvalidTaskError, match=r"^invalid task function$"):
        Task(execute="not callable").validate()  # type: ignore[arg-type]


def test_id_is_checked_before_function() -> None:
    with pytest.raises(InvalidTaskError, match=r"^invalid task id$"):
        Task(id=uuid.UUID(int=0)).validate()


@pytest.mark.parametrize("priority", [MIN_PRIORITY, -1, 0, 1, MAX_PRIORITY])
def test_priority_within_int32_is_accepted(priority: int) -> None:
    assert Task(execute=_fn, priority=priority).priority == priority


def test_int32_bounds() -> None:
    assert MIN_PRIORITY == -(2**31)
    assert MAX_PRIORITY == 2**31 - 1


@pytest.mark.parametrize("priority", [MIN_PRIORITY - 1, MAX_PRIORITY + 1, 2**63, -(2**63)])
def test_priority_outside_int32_is_rejected_at_construction(priority: int) -> None:
    with pytest.raises(InvalidTaskError, match="outside the 32-bit range"):
        Task(execute=_fn, priority=priority)


def _assign_priority_and_validate(task: Task, priority: object) -> None:
    task.priority = priority  # type: ignore[assignment]
    task.validate()


@pytest.mark.parametrize("priority", [MIN_PRIORITY - 1, MAX_PRIORITY + 1, True, "1"])
def test_bad_priority_assigned_after_construction_is_rejected_by_validation(priority: object) -> None:
    # Either the assignment or the registration-time validation must refuse it.
    task = Task(execute=_fn)
    with pytest.raises(InvalidTaskError, match="priority"):
        _assign_priority_and_validate(task, priority)


@pytest.mark.parametrize("priority", [True, False, "1", 1.0, None])
def test_non_int_priority_is_rejected(priority: object) -> None:
    with pytest.raises(InvalidTaskError, match="priority must be an int"):
        Task(execute=_fn, priority=priority)  # type: ignore[arg-type]


def test_retry_delay_accepts_timedelta_and_seconds() -> None:
    assert Task(execute=_fn, retry_delay=dt.timedelta(milliseconds=1500)).retry_delay == 1.5
    assert Task(execute=_fn, retry_delay=2).retry_delay == 2.0
    assert isinstance(Task(execute=_fn, retry_delay=2).retry_delay, float)
    assert Task(execute=_fn).retry_delay == 0.0


def test_retry_delay_rejects_other_types() -> None:
    with pytest.raises(InvalidDurationError, match="expected seconds or a timedelta, got str"):
        Task(execute=_fn, retry_delay="1s")  # type: ignore[arg-type]


def test_run_at_accepts_aware_datetime() -> None:
    at = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert Task(execute=_fn, run_at=at).run_at == at.timestamp()
    assert Task(execute=_fn, run_at=at).run_at == 1704157445.0


@pytest.fixture
def non_utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with a local zone that is not UTC, so "naive as local" would show."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.usefixtures("non_utc_local_time")
def test_run_at_reads_naive_datetime_as_utc() -> None:
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    assert naive.timestamp() != 1704164645.0  # the local zone really is not UTC
    assert Task(execute=_fn, run_at=naive).run_at == 1704164645.0


def test_run_at_accepts_epoch_seconds_and_none() -> None:
    assert Task(execute=_fn, run_at=1700000000).run_at == 1700000000.0
    assert Task(execute=_fn, run_at=1.5).run_at == 1.5
    assert Task(execute=_fn).run_at is None


def test_run_at_rejects_other_types() -> None:
    with pytest.raises(InvalidDurationError, match="expected epoch seconds or a datetime"):
        Task(execute=_fn, run_at="2024-01-01")  # type: ignore[arg-type]


def _ctx() -> TaskContext:
    return TaskContext(task_id=uuid.uuid4(), attempt=1)


def test_context_starts_not_cancelled() -> None:
    ctx = _ctx()
    assert ctx.cancelled is False
    ctx.raise_if_cancelled()


def test_signal_cancels_the_context() -> None:
    ctx = _ctx()
    ctx.signal()
    assert ctx.cancelled is True
    with pytest.raises(TaskCancelledError) as info:
        ctx.raise_if_cancelled()
    assert info.value.task_id == ctx.task_id
    assert str(info.value) == "task cancelled"


def test_wait_times_out_with_false() -> None:
    assert _ctx().wait(0.01) is False
    assert _ctx().wait(0) is False


def test_wait_returns_true_at_once_when_already_cancelled() -> None:
    ctx = _ctx()
    ctx.signal()
    assert ctx.wait(0) is True
    assert ctx.wait(None) is True


def test_wait_wakes_when_signalled_from_another_thread() -> None:
    ctx = _ctx()
    waiting = threading.Event()
    outcome: list[bool] = []

    def waiter() -> None:
        waiting.set()
        outcome.append(ctx.wait(60))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert waiting.wait(10)
    ctx.signal()
    thread.join(10)
    assert not thread.is_alive(), "wait() did not wake up on signal()"
    assert outcome == [True]


def _wait_after_barrier(ctx: TaskContext, barrier: threading.Barrier, outcome: list[bool]) -> None:
    barrier.wait()
    outcome.append(ctx.wait(60))


def test_signal_from_another_thread_while_waiting_with_barrier() -> None:
    # Both threads meet, then one waits and the other signals: whichever runs
    # first, wait() must report the cancellation.
    for _ in range(50):
        ctx = _ctx()
        barrier = threading.Barrier(2, timeout=10)  # a lost thread breaks the barrier instead of hanging
        outcome: list[bool] = []
        thread = threading.Thread(target=_wait_after_barrier, args=(ctx, barrier, outcome))
        thread.start()
        barrier.wait()
        ctx.signal()
        thread.join(10)
        assert not thread.is_alive()
        assert outcome == [True]


def test_context_carries_its_fields() -> None:
    task_id = uuid.uuid4()
    ctx = TaskContext(task_id=task_id, attempt=3, deadline=12.5, name="send")
    assert (ctx.task_id, ctx.attempt, ctx.deadline, ctx.name) == (task_id, 3, 12.5, "send")


def test_result_str_format() -> None:
    task = Task(execute=_fn, name="job", id=uuid.UUID("11111111-2222-3333-4444-555555555555"))
    rendered = str(Result(task=task, result=42, error=ValueError("bad")))
    assert rendered == f"Task: {task!r}, Result: 42, Error: bad"
    assert rendered.startswith("Task: <Task 11111111-2222-3333-4444-555555555555 'job'")


def test_result_str_without_result_or_error() -> None:
    task = Task(execute=_fn)
    assert str(Result(task=task)) == f"Task: {task!r}, Result: None, Error: None"


def test_result_status_is_the_task_status() -> None:
    task = Task(execute=_fn)
    result = Result(task=task)
    assert result.status is task.status
