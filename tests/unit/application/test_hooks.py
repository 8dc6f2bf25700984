"""Hooks (docs/task-manager.md#hooks): on_queued once per registration, on_start per attempt, on_retry per
scheduled retry,
on_finish once; set_hooks replaces the set; a raising hook is logged and processing continues."""

from __future__ import annotations

import logging

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskHooks
from pyworker.domain import QueueFullError, Task, TaskCancelledError, TaskStatus, retry_delay
from tests.support.waits import until, within
from tests.unit.application.support import BoomError, Gate, HookLog, MakeManager, failing, ok


async def test_success_calls_queued_start_finish(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.wait())
    assert log.calls == [
        ("queued", task.id),
        ("start", task.id, 1),
        ("finish", task.id, TaskStatus.COMPLETED, "ok", None),
    ]


async def test_on_queued_runs_synchronously_in_register(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_max_workers(0)
    task = Task(execute=ok)
    await tm.register_task(task)
    assert log.calls == [("queued", task.id)]


async def test_retry_sequence(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=1, hooks=log.hooks())
    task = Task(execute=failing(2, result="third"), retries=2)
    await tm.register_task(task)
    for attempt in (1, 2):
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        clock.advance(retry_delay(1.0, attempt, task.id))
    await within(tm.wait())
    assert log.calls == [
        ("queued", task.id),
        ("start", task.id, 1),
        ("retry", task.id, retry_delay(1.0, 1, task.id), 1),
        ("start", task.id, 2),
        ("retry", task.id, retry_delay(1.0, 2, task.id), 2),
        ("start", task.id, 3),
        ("finish", task.id, TaskStatus.COMPLETED, "third", None),
    ]


async def test_on_retry_sees_the_waiting_status(make_manager: MakeManager) -> None:
    seen: list[TaskStatus] = []
    tm = make_manager(hooks=TaskHooks(on_retry=lambda task, delay, attempt: seen.append(task.status)))
    task = Task(execute=failing(1), retries=1)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    assert seen == [TaskStatus.WAITING_RETRY]


async def test_failure_finish_gets_the_error(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=failing(1))
    await tm.register_task(task)
    await within(tm.wait())
    [finish] = log.finishes()
    assert finish[2] is TaskStatus.FAILED
    assert finish[3] is None
    assert isinstance(finish[4], BoomError)


async def test_cancel_of_a_waiting_task_calls_finish_only(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_max_workers(0)
    task = Task(execute=ok)
    await tm.register_task(task)
    await tm.cancel_task(task.id)
    assert log.kinds() == ["queued", "finish"]
    assert log.calls[1][2] is TaskStatus.CANCELLED
    assert isinstance(log.calls[1][4], TaskCancelledError)


async def test_refused_registrations_call_no_hook(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(max_tasks=1, hooks=log.hooks())
    tm.set_max_workers(0)
    await tm.register_task(Task(execute=ok))
    with pytest.raises(QueueFullError):
        await tm.register_task(Task(execute=ok))
    with pytest.raises(Exception, match="invalid task function"):
        await tm.register_task(Task())
    assert log.kinds() == ["queued"]


async def test_on_start_fires_for_execute_task(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.execute_task(task.id))
    assert log.kinds(task) == ["queued", "start", "finish"]


async def test_set_hooks_replaces_the_whole_set(make_manager: MakeManager) -> None:
    first, second = HookLog(), HookLog()
    tm = make_manager(hooks=first.hooks())
    finishes: list[object] = []
    tm.set_hooks(TaskHooks(on_finish=lambda task, *_: finishes.append(task.id)))
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.wait())
    assert first.calls == []
    assert finishes == [task.id]
    tm.set_hooks(second.hooks())
    other = Task(execute=ok)
    await tm.register_task(other)
    await within(tm.wait())
    assert second.kinds() == ["queued", "start", "finish"]
    assert finishes == [task.id]


async def test_set_hooks_none_disables(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_hooks(None)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert log.calls == []


@pytest.mark.parametrize("which", ["on_queued", "on_start", "on_retry", "on_finish"])
async def test_a_raising_hook_is_logged_and_processing_continues(
    make_manager: MakeManager, clock: ManualClock, caplog: pytest.LogCaptureFixture, which: str
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError(f"{which} exploded")

    tm = make_manager(retry_delay=1, hooks=TaskHooks(**{which: explode}))
    stream = tm.subscribe_results(5)
    task = Task(execute=failing(1, result="fine"), retries=1)
    with caplog.at_level(logging.ERROR):
        await tm.register_task(task)
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        clock.advance(2)
        await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "fine"
    assert len(stream) == 1  # publication happens even when on_finish raised
    records = [r for r in caplog.records if f"hook {which} raised" in r.getMessage()]
    assert records
    assert records[0].exc_info is not None
    assert f"{which} exploded" in str(records[0].exc_info[1])


async def test_on_start_runs_before_the_function_body(make_manager: MakeManager) -> None:
    """on_start runs before the function body of the same attempt."""
    order: list[str] = []
    gate = Gate()
    tm = make_manager(hooks=TaskHooks(on_start=lambda task: order.append("hook")))

    async def body(ctx: object) -> None:
        order.append("body")
        await gate(ctx)  # type: ignore[arg-type]

    task = Task(execute=body)
    await tm.register_task(task)
    await within(gate.started.wait())
    gate.release.set()
    await within(tm.wait())
    assert order == ["hook", "body"]
