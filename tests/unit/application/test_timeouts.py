"""Per-attempt timeouts (docs/task-manager.md#timeouts): the manager default or execute_task's timeout; a timed-out
attempt
is retried while retries remain, else the task ends CONTEXT_DEADLINE_REACHED with TaskTimeoutError."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.domain import Task, TaskContext, TaskStatus, TaskTimeoutError, retry_delay
from tests.support.waits import settle, until, within
from tests.unit.application.support import Gate, HookLog, MakeManager, SyncGate


async def test_coroutine_past_the_manager_timeout_reaches_its_deadline(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(timeout=5)
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    clock.advance(4.5)
    await settle()
    assert task.status is TaskStatus.RUNNING
    clock.advance(0.5)
    await until(lambda: task.status.is_terminal)
    assert gate.cancelled  # the coroutine saw CancelledError
    assert tm.get_task(task.id).status is TaskStatus.CONTEXT_DEADLINE_REACHED
    assert isinstance(task.error, TaskTimeoutError)
    assert tm.get_metrics().failed == 1
    assert tm.get_metrics().cancelled == 0


async def test_timeout_given_as_timedelta(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=dt.timedelta(seconds=3))
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    clock.advance(3)
    await until(lambda: task.status.is_terminal)
    assert gate.cancelled
    assert task.status is TaskStatus.CONTEXT_DEADLINE_REACHED


async def test_timed_out_attempt_is_retried(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(timeout=5, retry_delay=1, hooks=log.hooks())
    attempts: list[int] = []

    async def slow_then_fast(ctx: TaskContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.Event().wait()
        return "fast"

    task = Task(execute=slow_then_fast, retries=1)
    await tm.register_task(task)
    await until(lambda: attempts == [1])
    clock.advance(5)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(retry_delay(1.0, 1, task.id))
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "fast"
    assert attempts == [1, 2]
    assert log.kinds(task) == ["queued", "start", "retry", "start", "finish"]


async def test_every_attempt_gets_a_fresh_deadline(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=5, retry_delay=1)
    deadlines: list[float | None] = []

    async def never(ctx: TaskContext) -> None:
        deadlines.append(ctx.deadline)
        await asyncio.Event().wait()

    task = Task(execute=never, retries=1)
    await tm.register_task(task)
    await until(lambda: len(deadlines) == 1)
    start = clock.now()
    clock.advance(5)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    delay = retry_delay(1.0, 1, task.id)
    clock.advance(delay)
    await until(lambda: len(deadlines) == 2)
    assert deadlines == [start + 5, start + 5 + delay + 5]
    clock.advance(5)
    await until(lambda: task.status.is_terminal)
    assert task.status is TaskStatus.CONTEXT_DEADLINE_REACHED
    assert task.attempts == 2


async def test_sync_function_sees_the_deadline_through_its_context(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(timeout=2)

    def poll(ctx: TaskContext) -> None:
        ctx.wait()  # returns once the attempt is interrupted
        ctx.raise_if_cancelled()

    task = Task(execute=poll)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.RUNNING)
    clock.advance(2)
    await within(tm.wait())
    assert task.status is TaskStatus.CONTEXT_DEADLINE_REACHED
    assert isinstance(task.error, TaskTimeoutError)


async def test_sync_function_ignoring_its_deadline_completes(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=2)
    gate = SyncGate(asyncio.get_running_loop(), result="late but done")
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    clock.advance(2)
    await within(tm.wait())
    assert gate.saw_cancel is True
    assert task.status is TaskStatus.COMPLETED  # it returned success after all (B.4.3)
    assert task.result == "late but done"


async def test_execute_task_timeout_overrides_the_default(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=100)
    tm.set_max_workers(0)
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id, timeout=2))
    await within(gate.started.wait())
    assert gate.contexts[0].deadline == clock.now() + 2
    clock.advance(2)
    with pytest.raises(TaskTimeoutError) as info:
        await within(call)
    assert info.value.timeout == 2
    assert info.value.task_id == task.id
    assert task.status is TaskStatus.CONTEXT_DEADLINE_REACHED


async def test_execute_task_without_timeout_uses_the_manager_default(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(timeout=7)
    tm.set_max_workers(0)
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id, timeout=0))
    await within(gate.started.wait())
    assert gate.contexts[0].deadline == clock.now() + 7
    gate.release.set()
    assert await within(call) == "gate"


async def test_finishing_before_the_deadline_disarms_it(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=5)
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    gate.release.set()
    await within(tm.wait())
    clock.advance(10)
    await settle()
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "gate"
