"""Cancellation (docs/task-manager.md#cancellation): waiting tasks end CANCELLED at once; running coroutines are
cancelled, running plain
functions see ctx.cancelled; a function that swallows the cancellation and returns a value completes."""

from __future__ import annotations

import asyncio

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.domain import Task, TaskCancelledError, TaskContext, TaskStatus
from tests.support.waits import settle, until, within
from tests.unit.application.support import Gate, HookLog, MakeManager, Recorder, SyncGate


async def test_cancel_waiting_task(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_max_workers(0)
    stream = tm.subscribe_results(5)
    rec = Recorder()
    task = Task(execute=rec.fn("never"))
    await tm.register_task(task)
    await tm.cancel_task(task.id)
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.error, TaskCancelledError)
    assert task.cancelled_at == clock.now()
    assert task.completed_at is None
    assert tm.get_metrics().queue_depth == 0
    assert tm.get_metrics().cancelled == 1
    assert log.kinds(task) == ["queued", "finish"]
    assert log.finishes()[0][2] is TaskStatus.CANCELLED
    result = stream.get_nowait()
    assert result is not None
    assert result.task is task
    assert isinstance(result.error, TaskCancelledError)
    tm.set_max_workers(1)
    await within(tm.wait())
    await settle()
    assert rec.order == []


async def test_cancel_by_string_id(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    task = Task(execute=Recorder().fn("x"))
    await tm.register_task(task)
    await tm.cancel_task(str(task.id))
    assert task.status is TaskStatus.CANCELLED


async def test_cancel_running_coroutine(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    task = Task(execute=gate, retries=3)
    await tm.register_task(task)
    await within(gate.started.wait())
    await tm.cancel_task(task.id)
    await within(tm.wait())
    assert gate.cancelled  # CancelledError was raised inside the function
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.error, TaskCancelledError)
    assert task.attempts == 1  # never retried
    assert tm.get_metrics().retried == 0
    assert tm.get_metrics().cancelled == 1


async def test_worker_survives_cancelling_its_task(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    cancelled = Task(execute=gate)
    await tm.register_task(cancelled)
    await within(gate.started.wait())
    await tm.cancel_task(cancelled.id)
    rec = Recorder()
    after = Task(execute=rec.fn("after"))
    await tm.register_task(after)
    await within(tm.wait())
    assert after.status is TaskStatus.COMPLETED
    assert rec.order == ["after"]


async def test_cancel_running_sync_function_signals_its_context(make_manager: MakeManager) -> None:
    tm = make_manager()
    seen: list[bool] = []
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def poll(ctx: TaskContext) -> None:
        loop.call_soon_threadsafe(started.set)
        seen.append(ctx.wait())
        seen.append(ctx.cancelled)
        ctx.raise_if_cancelled()

    task = Task(execute=poll, retries=2)
    await tm.register_task(task)
    await within(started.wait())
    await tm.cancel_task(task.id)
    await within(tm.wait())
    assert seen == [True, True]
    assert task.status is TaskStatus.CANCELLED
    assert task.attempts == 1


async def test_coroutine_swallowing_cancellation_and_returning_completes(make_manager: MakeManager) -> None:
    tm = make_manager()
    started = asyncio.Event()

    async def stubborn(ctx: TaskContext) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "finished anyway"
        return "unreachable"

    task = Task(execute=stubborn)
    await tm.register_task(task)
    await within(started.wait())
    await tm.cancel_task(task.id)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "finished anyway"
    # The worker task was not left cancelled: it keeps serving.
    after = Task(execute=Recorder().fn("after"))
    await tm.register_task(after)
    await within(tm.wait())
    assert after.status is TaskStatus.COMPLETED


async def test_sync_function_ignoring_cancellation_completes(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = SyncGate(asyncio.get_running_loop(), result="done regardless")
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    await tm.cancel_task(task.id)
    await within(tm.wait())
    assert gate.saw_cancel is True
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "done regardless"


async def test_cancel_terminal_task_is_a_no_op(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=Recorder().fn("x"))
    await tm.register_task(task)
    await within(tm.wait())
    await tm.cancel_task(task.id)
    assert task.status is TaskStatus.COMPLETED
    assert task.error is None
    assert len(log.finishes()) == 1
    assert tm.get_metrics().cancelled == 0


async def test_cancelling_twice_finishes_once(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    tm.set_max_workers(0)
    task = Task(execute=Recorder().fn("x"))
    await tm.register_task(task)
    await tm.cancel_task(task.id)
    await tm.cancel_task(task.id)
    assert len(log.finishes()) == 1
    assert tm.get_metrics().cancelled == 1


async def test_cancel_all_cancels_waiting_delayed_backoff_and_running(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(retry_delay=10)

    async def fail(ctx: TaskContext) -> None:
        raise RuntimeError("retry me")

    backing_off = Task(execute=fail, retries=2)
    await tm.register_task(backing_off)
    await until(lambda: backing_off.status is TaskStatus.WAITING_RETRY)
    gate = Gate()
    running = Task(execute=gate)
    await tm.register_task(running)
    await within(gate.started.wait())
    waiting = Task(execute=Recorder().fn("w"))
    await tm.register_task(waiting)
    delayed = Task(execute=Recorder().fn("d"))
    await tm.register_task_after(delayed, 60)
    tm.cancel_all()
    await within(tm.wait())
    assert [t.status for t in (backing_off, running, waiting, delayed)] == [TaskStatus.CANCELLED] * 4
    assert tm.get_metrics().cancelled == 4
    assert tm.get_metrics().queue_depth == 0


async def test_cancel_of_a_task_run_by_execute_task(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)  # only execute_task runs it
    gate = Gate()
    task = Task(execute=gate, retries=2)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id))
    await within(gate.started.wait())
    await tm.cancel_task(task.id)
    with pytest.raises(TaskCancelledError):
        await within(call)
    assert gate.cancelled
    assert task.status is TaskStatus.CANCELLED
    assert task.attempts == 1
