"""execute_task (docs/task-manager.md#execute_task): claims a registered task, runs one attempt in the caller,
returns its result or raises
its error (a retry still happens in the background), refuses tasks already started or finished."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskManager
from pyworker.domain import (
    Task,
    TaskAlreadyStartedError,
    TaskCancelledError,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
)
from tests.support.waits import settle, until, within
from tests.unit.application.support import BoomError, Gate, HookLog, MakeManager, failing, ok


async def test_register_then_execute_runs_in_the_caller(tm: TaskManager) -> None:
    calls: list[asyncio.Task[object] | None] = []

    async def where(ctx: TaskContext) -> str:
        calls.append(asyncio.current_task())
        return "mine"

    task = Task(execute=where)
    await tm.register_task(task)
    assert await within(tm.execute_task(task.id)) == "mine"  # the worker is idle and awake, yet the caller wins
    assert calls == [asyncio.current_task()]
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "mine"
    await within(tm.wait())
    await settle()
    assert len(calls) == 1  # the worker never ran it again


async def test_execute_by_string_id(tm: TaskManager) -> None:
    task = Task(execute=ok)
    await tm.register_task(task)
    assert await within(tm.execute_task(str(task.id))) == "ok"


async def test_execute_plain_function(tm: TaskManager) -> None:
    def blocking(ctx: TaskContext) -> int:
        return 7

    task = Task(execute=blocking)
    await tm.register_task(task)
    assert await within(tm.execute_task(task.id)) == 7
    assert task.status is TaskStatus.COMPLETED


async def test_execute_unknown_id_is_not_found(tm: TaskManager) -> None:
    with pytest.raises(TaskNotFoundError):
        await within(tm.execute_task(uuid.uuid4()))


async def test_execute_running_task_is_already_started(tm: TaskManager) -> None:
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    with pytest.raises(TaskAlreadyStartedError):
        await within(tm.execute_task(task.id))
    gate.release.set()
    await within(tm.wait())
    assert gate.calls == 1


@pytest.mark.parametrize("outcome", ["completed", "cancelled"])
async def test_execute_finished_task_is_already_started(make_manager: MakeManager, outcome: str) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task(task)
    if outcome == "cancelled":
        await tm.cancel_task(task.id)
    await within(tm.wait())
    with pytest.raises(TaskAlreadyStartedError):
        await within(tm.execute_task(task.id))


async def test_execute_raises_the_error_and_retry_still_happens(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=1, hooks=log.hooks())
    task = Task(execute=failing(1, result="later"), retries=1)
    await tm.register_task(task)
    with pytest.raises(BoomError):
        await within(tm.execute_task(task.id))
    assert task.status is TaskStatus.WAITING_RETRY
    clock.advance(2)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED
    assert task.result == "later"
    assert task.attempts == 2
    assert log.kinds(task) == ["queued", "start", "retry", "start", "finish"]


async def test_execute_without_retries_left_fails_the_task(tm: TaskManager) -> None:
    task = Task(execute=failing(1))
    await tm.register_task(task)
    with pytest.raises(BoomError):
        await within(tm.execute_task(task.id))
    assert task.status is TaskStatus.FAILED
    assert isinstance(task.error, BoomError)


async def test_execute_a_delayed_task_now(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    calls: list[int] = []

    async def count(ctx: TaskContext) -> int:
        calls.append(ctx.attempt)
        return len(calls)

    task = Task(execute=count)
    await tm.register_task_after(task, 60)
    assert await within(tm.execute_task(task.id)) == 1
    assert tm.get_metrics().queue_depth == 0
    clock.advance(60)
    await settle()
    assert calls == [1]


async def test_cancelling_the_caller_cancels_the_task(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    gate = Gate()
    task = Task(execute=gate, retries=2)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id))
    await within(gate.started.wait())
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(call)
    assert gate.cancelled
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.error, TaskCancelledError)
    await within(tm.wait())


async def test_execute_counts_in_metrics_and_hooks_like_a_worker_run(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.execute_task(task.id))
    assert log.kinds(task) == ["queued", "start", "finish"]
    metrics = tm.get_metrics()
    assert (metrics.scheduled, metrics.completed, metrics.running) == (1, 1, 0)


async def test_execute_while_the_worker_holds_other_tasks(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    await tm.register_task(Task(execute=gate))
    await within(gate.started.wait())
    waiting = Task(execute=ok)
    await tm.register_task(waiting)
    assert await within(tm.execute_task(waiting.id)) == "ok"
    await until(lambda: waiting.status is TaskStatus.COMPLETED)
    gate.release.set()
    await within(tm.wait())
    assert tm.get_metrics().completed == 2
