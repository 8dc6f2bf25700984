"""Registration (docs/task-manager.md#construction-and-defaults,
docs/task-manager.md#tasks-task-functions-and-taskcontext): validation, defaults and normalisation, duplicates,
batches, lookups."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskHooks, TaskManager
from pyworker.domain import (
    InvalidTaskError,
    NotAcceptingTasksError,
    QueueFullError,
    Task,
    TaskAlreadyExistsError,
    TaskNotFoundError,
    TaskStatus,
)
from tests.support.waits import within
from tests.unit.application.support import BoomError, Gate, HookLog, MakeManager, failing, ok

# -- construction defaults and normalisation (B.2.1, B.2.2) -----------------------------


def test_constructor_defaults_match_go_worker() -> None:
    tm = TaskManager()
    assert tm.max_workers == (os.cpu_count() or 1)
    assert tm.max_tasks == 10
    assert tm.tasks_per_second == 5.0
    assert tm.timeout == 300.0
    assert tm.retry_delay == 1.0
    assert tm.max_retries == 3
    assert tm.default_queue == "default"
    assert tm.queue_weights == {}


def test_non_positive_arguments_are_normalised() -> None:
    tm = TaskManager(max_workers=0, max_tasks=-1, tasks_per_second=-2, timeout=0, retry_delay=-1, max_retries=-5)
    assert tm.max_workers == (os.cpu_count() or 1)
    assert tm.max_tasks == 10
    assert tm.tasks_per_second == 0.0  # unlimited, not replaced by 5
    assert tm.timeout == 300.0
    assert tm.retry_delay == 1.0
    assert tm.max_retries == 3


def test_durations_accept_timedelta() -> None:
    tm = TaskManager(timeout=dt.timedelta(minutes=2), retry_delay=dt.timedelta(milliseconds=250))
    assert tm.timeout == 120.0
    assert tm.retry_delay == 0.25


def test_default_queue_and_weights_are_normalised() -> None:
    tm = TaskManager(default_queue="  jobs  ", queue_weights={" a ": 3, "   ": 9, "b": 0, "c": -2})
    assert tm.default_queue == "jobs"
    assert tm.queue_weights == {"a": 3, "b": 1, "c": 1}
    assert TaskManager(default_queue="   ").default_queue == "default"


def test_queue_weights_are_copied() -> None:
    weights = {"a": 2}
    tm = TaskManager(queue_weights=weights)
    weights["a"] = 7
    assert tm.queue_weights == {"a": 2}


# -- successful registration -----------------------------------------------------------


async def test_register_queues_task_and_stores_it(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=0)
    tm.set_max_workers(0)  # nothing runs: the task stays waiting
    task = Task(execute=ok, name="job")
    await tm.register_task(task)
    assert task.status is TaskStatus.QUEUED
    assert tm.get_task(task.id) is task
    assert tm.get_task(str(task.id)) is task
    assert tm.get_tasks() == [task]
    assert tm.get_metrics().scheduled == 1
    assert tm.get_metrics().queue_depth == 1


async def test_register_applies_task_defaults(make_manager: MakeManager) -> None:
    tm = make_manager(default_queue="main", retry_delay=2.5, max_retries=2)
    tm.set_max_workers(0)
    defaulted = Task(execute=ok)
    clamped = Task(execute=ok, retries=9, retry_delay=0.5, weight=-3, queue="  side  ")
    negative = Task(execute=ok, retries=-1, retry_delay=-4)
    for task in (defaulted, clamped, negative):
        await tm.register_task(task)
    assert (defaulted.queue, defaulted.weight, defaulted.retries, defaulted.retry_delay) == ("main", 1, 0, 2.5)
    assert (clamped.queue, clamped.weight, clamped.retries, clamped.retry_delay) == ("side", 1, 2, 0.5)
    assert (negative.retries, negative.retry_delay) == (0, 2.5)


async def test_register_keeps_explicit_positive_weight(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    task = Task(execute=ok, weight=7)
    await tm.register_task(task)
    assert task.weight == 7


async def test_fields_reassigned_after_construction_are_converted(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    task = Task(execute=ok)
    task.retry_delay = dt.timedelta(seconds=3)  # type: ignore[assignment]
    task.run_at = dt.datetime.fromtimestamp(clock.now() + 60, tz=dt.UTC)  # type: ignore[assignment]
    await tm.register_task(task)
    assert task.retry_delay == 3.0
    assert task.run_at == pytest.approx(clock.now() + 60)


async def test_register_task_starts_workers_without_explicit_start(make_manager: MakeManager) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task(task)  # no start() call
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "ok"


async def test_fast_task_is_not_overwritten_back_to_queued(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=4)
    tasks = [Task(execute=ok) for _ in range(10)]
    for task in tasks:
        await tm.register_task(task)
    await within(tm.wait())
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}


# -- invalid input --------------------------------------------------------------------------


async def test_register_none_is_task_is_nil(tm: TaskManager) -> None:
    with pytest.raises(InvalidTaskError, match=r"^task is nil$"):
        await tm.register_task(None)  # type: ignore[arg-type]
    assert tm.get_metrics().scheduled == 0


async def test_register_non_task_is_refused(tm: TaskManager) -> None:
    with pytest.raises(InvalidTaskError):
        await tm.register_task(ok)  # type: ignore[arg-type]


async def test_task_without_function_is_invalid_and_not_stored(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task()
    with pytest.raises(InvalidTaskError, match=r"^invalid task function$"):
        await tm.register_task(task)
    assert task.status is TaskStatus.INVALID
    assert isinstance(task.error, InvalidTaskError)
    with pytest.raises(TaskNotFoundError):
        tm.get_task(task.id)
    assert tm.get_tasks() == []
    assert tm.get_metrics().scheduled == 0
    assert tm.get_metrics().failed == 0  # Invalid tasks never reach the finish step (B.13.1)
    assert log.calls == []


async def test_non_callable_function_is_invalid(tm: TaskManager) -> None:
    task = Task(execute="not callable")  # type: ignore[arg-type]
    with pytest.raises(InvalidTaskError, match="invalid task function"):
        await tm.register_task(task)
    assert task.status is TaskStatus.INVALID


async def test_nil_id_is_invalid(tm: TaskManager) -> None:
    task = Task(execute=ok, id=uuid.UUID(int=0))
    with pytest.raises(InvalidTaskError, match=r"^invalid task id$"):
        await tm.register_task(task)
    assert task.status is TaskStatus.INVALID
    assert tm.get_tasks() == []


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1])
def test_priority_outside_int32_is_refused_at_construction(priority: int) -> None:
    with pytest.raises(InvalidTaskError, match="32-bit"):
        Task(execute=ok, priority=priority)


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1])
async def test_priority_reassigned_outside_int32_is_refused_at_registration(tm: TaskManager, priority: int) -> None:
    task = Task(execute=ok)
    task.priority = priority
    with pytest.raises(InvalidTaskError, match="32-bit"):
        await tm.register_task(task)
    assert task.status is TaskStatus.INVALID
    assert tm.get_tasks() == []


@pytest.mark.parametrize("priority", [2**31 - 1, -(2**31)])
async def test_priority_at_int32_bounds_is_accepted(tm: TaskManager, priority: int) -> None:
    task = Task(execute=ok, priority=priority)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED


async def test_duplicate_id_is_refused_and_first_task_untouched(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_max_workers(0)
    first = Task(execute=ok, priority=3, name="first")
    second = Task(execute=ok, priority=9, name="second", id=first.id)
    await tm.register_task(first)
    with pytest.raises(TaskAlreadyExistsError) as info:
        await tm.register_task(second)
    assert info.value.task_id == first.id
    assert tm.get_task(first.id) is first
    assert first.status is TaskStatus.QUEUED
    assert first.priority == 3
    assert second.status is TaskStatus.UNKNOWN
    assert tm.get_metrics().scheduled == 1
    assert tm.get_metrics().queue_depth == 1
    assert log.kinds() == ["queued"]


async def test_registering_the_same_object_twice_is_a_duplicate(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    task = Task(execute=ok, retries=1)
    await tm.register_task(task)
    with pytest.raises(TaskAlreadyExistsError):
        await tm.register_task(task)
    assert task.status is TaskStatus.QUEUED
    assert tm.get_metrics().queue_depth == 1


async def test_a_finished_task_object_cannot_be_registered_in_another_manager(make_manager: MakeManager) -> None:
    first = make_manager()
    task = Task(execute=ok)
    await first.register_task(task)
    await within(first.wait())
    second = make_manager()
    with pytest.raises(InvalidTaskError):
        await second.register_task(task)
    assert second.get_tasks() == []


async def test_register_after_stop_now_is_refused(tm: TaskManager) -> None:
    await within(tm.stop_now())
    task = Task(execute=ok)
    with pytest.raises(NotAcceptingTasksError, match="not accepting new tasks"):
        await tm.register_task(task)
    assert task.status is TaskStatus.UNKNOWN
    assert tm.get_tasks() == []


async def test_register_after_stop_graceful_is_refused(tm: TaskManager) -> None:
    await within(tm.stop_graceful())
    with pytest.raises(NotAcceptingTasksError):
        await tm.register_task(Task(execute=ok))


# -- register_tasks (B.5.2) ------------------------------------------------------------------


async def test_register_tasks_registers_valid_ones_and_groups_the_errors(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    good1, good2 = Task(execute=ok), Task(execute=ok)
    invalid = Task()
    duplicate = Task(execute=ok, id=good1.id)
    with pytest.raises(ExceptionGroup) as info:
        await tm.register_tasks([good1, invalid, duplicate, good2])
    errors = info.value.exceptions
    assert [type(e) for e in errors] == [InvalidTaskError, TaskAlreadyExistsError]
    assert {t.id for t in tm.get_tasks()} == {good1.id, good2.id}
    assert good2.status is TaskStatus.QUEUED
    assert tm.get_metrics().scheduled == 2


@pytest.mark.parametrize("hooked", [False, True])
async def test_register_tasks_gives_the_same_outcome_with_or_without_a_queued_hook(
    make_manager: MakeManager, hooked: bool
) -> None:
    # Without an on_queued hook (and no tracer) the batch runs in the admission's own
    # loop; with one, task by task through the engine. Same registrations, same errors
    # in the same order, and the hook hears each task as it is registered.
    seen: list[tuple[uuid.UUID, int]] = []
    tm = make_manager(max_tasks=3)
    tm.set_max_workers(0)  # nothing drains: the third valid task finds the queue full
    if hooked:
        tm.set_hooks(TaskHooks(on_queued=lambda task: seen.append((task.id, len(tm.get_tasks())))))
    good = [Task(execute=ok) for _ in range(4)]
    batch: list[object] = [good[0], None, good[1], "x", Task(), Task(execute=ok, id=good[0].id), good[2], good[3]]
    with pytest.raises(ExceptionGroup) as info:
        await tm.register_tasks(batch)  # type: ignore[arg-type]
    errors = info.value.exceptions
    assert [type(e) for e in errors] == [
        InvalidTaskError, InvalidTaskError, InvalidTaskError, TaskAlreadyExistsError, QueueFullError
    ]
    assert [str(e) for e in errors[:2]] == ["task is nil", "not a Task"]
    assert [t.status for t in good] == [TaskStatus.QUEUED] * 3 + [TaskStatus.UNKNOWN]
    assert {t.id for t in tm.get_tasks()} == {t.id for t in good[:3]}
    assert tm.get_metrics().scheduled == 3
    assert seen == ([(good[0].id, 1), (good[1].id, 2), (good[2].id, 3)] if hooked else [])


@pytest.mark.parametrize("hooked", [False, True])
async def test_register_tasks_on_a_manager_never_started_starts_its_workers(
    make_manager: MakeManager, hooked: bool
) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks() if hooked else None)
    tasks = [Task(execute=ok) for _ in range(3)]
    with pytest.raises(ExceptionGroup):
        await tm.register_tasks([None, *tasks])  # type: ignore[list-item]
    await within(tm.wait())
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 3
    assert log.kinds().count("queued") == (3 if hooked else 0)


async def test_register_tasks_without_failures_returns_normally(tm: TaskManager) -> None:
    tasks = [Task(execute=ok) for _ in range(3)]
    await tm.register_tasks(tasks)
    await within(tm.wait())
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 3


async def test_register_tasks_accepts_any_iterable(tm: TaskManager) -> None:
    tasks = [Task(execute=ok) for _ in range(2)]
    await tm.register_tasks(t for t in tasks)
    await within(tm.wait())
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 2


# -- lookups -----------------------------------------------------------------------------


async def test_get_task_unknown_id_is_not_found(tm: TaskManager) -> None:
    missing = uuid.uuid4()
    with pytest.raises(TaskNotFoundError) as info:
        tm.get_task(missing)
    assert info.value.task_id == missing
    with pytest.raises(TaskNotFoundError):
        tm.get_task(str(uuid.uuid4()))


async def test_malformed_id_string_is_invalid(tm: TaskManager) -> None:
    with pytest.raises(InvalidTaskError):
        tm.get_task("not-a-uuid")
    with pytest.raises(InvalidTaskError):
        await tm.cancel_task("not-a-uuid")
    with pytest.raises(InvalidTaskError):
        await within(tm.execute_task("not-a-uuid"))


async def test_cancel_unknown_id_is_not_found(tm: TaskManager) -> None:
    with pytest.raises(TaskNotFoundError):
        await tm.cancel_task(uuid.uuid4())


async def test_get_tasks_lists_waiting_running_and_finished(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    running = Task(execute=gate)
    waiting = Task(execute=ok)
    await tm.register_task(running)
    await within(gate.started.wait())
    await tm.register_task(waiting)
    failed = Task(execute=failing(1))
    await tm.register_task(failed)
    gate.release.set()
    await within(tm.wait())
    assert {t.id for t in tm.get_tasks()} == {running.id, waiting.id, failed.id}
    assert isinstance(failed.error, BoomError)
