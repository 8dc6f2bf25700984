"""Delayed tasks (docs/task-manager.md#delayed-tasks): register_task_at / register_task_after, due times, run_at
clearing."""

from __future__ import annotations

import datetime as dt

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.domain import InvalidTaskError, Task, TaskStatus
from tests.support.waits import settle, within
from tests.unit.application.support import HookLog, MakeManager, Recorder, ok


async def test_register_task_after_runs_only_once_due(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    task = Task(execute=rec.fn("late"))
    await tm.register_task_after(task, 5)
    assert task.status is TaskStatus.QUEUED
    assert task.run_at == clock.now() + 5
    clock.advance(4.5)
    await settle()
    assert rec.order == []
    assert task.status is TaskStatus.QUEUED
    clock.advance(0.5)
    await within(tm.wait())
    assert rec.order == ["late"]
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED
    assert task.run_at is None  # cleared once due


async def test_register_task_after_accepts_timedelta(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task_after(task, dt.timedelta(seconds=2))
    clock.advance(1)
    await settle()
    assert task.status is TaskStatus.QUEUED
    clock.advance(1)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


async def test_register_task_at_epoch_and_datetime(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    by_epoch = Task(execute=rec.fn("epoch"))
    by_datetime = Task(execute=rec.fn("datetime"))
    await tm.register_task_at(by_epoch, clock.now() + 3)
    await tm.register_task_at(by_datetime, dt.datetime.fromtimestamp(clock.now() + 6, tz=dt.UTC))
    clock.advance(3)
    await settle()
    assert rec.order == ["epoch"]
    clock.advance(3)
    await within(tm.wait())
    assert rec.order == ["epoch", "datetime"]


async def test_delayed_tasks_run_in_run_at_order(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    for label, delay in (("c", 30), ("a", 10), ("b", 20)):
        await tm.register_task_after(Task(execute=rec.fn(label), priority=-5 if label == "c" else 5), delay)
    for _ in range(3):
        clock.advance(10)
        await settle()
    await within(tm.wait())
    # Due time decides, not priority: c has the best priority but the latest run_at.
    assert rec.order == ["a", "b", "c"]


async def test_past_run_at_is_immediate_and_cleared(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task_at(task, clock.now() - 100)
    await within(tm.wait())  # no advance needed
    assert task.status is TaskStatus.COMPLETED
    assert task.run_at is None


async def test_run_at_set_on_the_task_is_honoured_by_register_task(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager()
    task = Task(execute=ok, run_at=clock.now() + 8)
    await tm.register_task(task)
    clock.advance(7)
    await settle()
    assert task.status is TaskStatus.QUEUED
    clock.advance(1)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


@pytest.mark.parametrize("delay", [0, -5])
async def test_non_positive_delay_keeps_existing_run_at(
    make_manager: MakeManager, clock: ManualClock, delay: float
) -> None:
    tm = make_manager()
    task = Task(execute=ok, run_at=clock.now() + 4)
    await tm.register_task_after(task, delay)
    await settle()
    assert task.status is TaskStatus.QUEUED
    assert task.run_at == clock.now() + 4
    clock.advance(4)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


async def test_non_positive_delay_registers_immediately(make_manager: MakeManager) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task_after(task, 0)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED


async def test_register_at_and_after_refuse_none(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    with pytest.raises(InvalidTaskError, match=r"^task is nil$"):
        await tm.register_task_at(None, clock.now())  # type: ignore[arg-type]
    with pytest.raises(InvalidTaskError, match=r"^task is nil$"):
        await tm.register_task_after(None, 1)  # type: ignore[arg-type]


async def test_delayed_task_counts_in_queue_depth_until_it_runs(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task_after(task, 5)
    assert tm.get_metrics().queue_depth == 1
    assert not tm.is_empty()
    clock.advance(5)
    await within(tm.wait())
    assert tm.get_metrics().queue_depth == 0
    assert tm.is_empty()


async def test_on_queued_fires_at_registration_not_when_due(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=ok)
    await tm.register_task_after(task, 5)
    assert log.kinds() == ["queued"]
    clock.advance(5)
    await within(tm.wait())
    assert log.kinds() == ["queued", "start", "finish"]


async def test_cancelled_delayed_task_never_runs(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    task = Task(execute=rec.fn("x"))
    await tm.register_task_after(task, 5)
    await tm.cancel_task(task.id)
    assert task.status is TaskStatus.CANCELLED
    clock.advance(10)
    await settle()
    assert rec.order == []
    assert tm.get_metrics().queue_depth == 0


async def test_cancelling_the_earliest_delayed_task_keeps_later_ones_on_time(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager()
    rec = Recorder()
    first = Task(execute=rec.fn("first"))
    second = Task(execute=rec.fn("second"))
    await tm.register_task_after(first, 2)
    await tm.register_task_after(second, 4)
    await tm.cancel_task(first.id)
    clock.advance(2)
    await settle()
    assert rec.order == []
    clock.advance(2)
    await within(tm.wait())
    assert rec.order == ["second"]
