"""Running attempts (docs/task-manager.md#timeouts, docs/differences.md): async and plain functions, results,
errors, the task context, concurrency."""

from __future__ import annotations

import asyncio
import threading

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskManager
from pyworker.domain import Task, TaskCancelledError, TaskContext, TaskStatus
from tests.support.waits import settle, until, within
from tests.unit.application.support import BoomError, Gate, MakeManager, SyncGate, ok


async def test_async_function_result_completes_the_task(tm: TaskManager, clock: ManualClock) -> None:
    async def compute(ctx: TaskContext) -> dict[str, int]:
        return {"answer": 42}

    task = Task(execute=compute)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == {"answer": 42}
    assert task.error is None
    assert task.started_at == clock.now()
    assert task.completed_at == clock.now()
    assert task.cancelled_at is None
    assert task.attempts == 1


async def test_function_returning_none_completes(tm: TaskManager) -> None:
    async def nothing(ctx: TaskContext) -> None:
        return None

    task = Task(execute=nothing)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result is None


async def test_plain_function_runs_in_a_worker_thread(tm: TaskManager) -> None:
    seen: list[int] = []

    def blocking(ctx: TaskContext) -> str:
        seen.append(threading.get_ident())
        return "from thread"

    task = Task(execute=blocking)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "from thread"
    assert seen
    assert seen[0] != threading.get_ident()


async def test_plain_function_does_not_block_the_loop(tm: TaskManager) -> None:
    gate = SyncGate(asyncio.get_running_loop())
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())  # the loop runs while the function blocks its thread
    assert task.status is TaskStatus.RUNNING
    gate.release.set()
    await within(tm.wait())
    assert task.result == "sync"
    assert gate.saw_cancel is False


async def test_plain_function_returning_an_awaitable_is_awaited(tm: TaskManager) -> None:
    async def inner() -> str:
        return "awaited"

    def outer(ctx: TaskContext) -> object:
        return inner()

    task = Task(execute=outer)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.result == "awaited"


async def test_raised_error_fails_the_task_with_that_error(tm: TaskManager) -> None:
    error = BoomError("broken")

    async def fail(ctx: TaskContext) -> None:
        raise error

    task = Task(execute=fail)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert task.error is error
    assert task.result is None
    assert task.completed_at is not None


async def test_plain_function_error_fails_the_task(tm: TaskManager) -> None:
    def fail(ctx: TaskContext) -> None:
        raise ValueError("sync failure")

    task = Task(execute=fail)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert isinstance(task.error, ValueError)
    assert str(task.error) == "sync failure"


async def test_cancellation_error_from_the_function_cancels_without_retry(make_manager: MakeManager) -> None:
    tm = make_manager()

    async def refuse(ctx: TaskContext) -> None:
        raise TaskCancelledError(task_id=ctx.task_id)

    task = Task(execute=refuse, retries=3)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.error, TaskCancelledError)
    assert task.attempts == 1
    assert tm.get_metrics().retried == 0


async def test_timeout_error_from_the_function_is_a_deadline(make_manager: MakeManager) -> None:
    tm = make_manager()
    error = TimeoutError("upstream timed out")

    async def slow(ctx: TaskContext) -> None:
        raise error

    task = Task(execute=slow)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.CONTEXT_DEADLINE_REACHED
    assert task.error is error


async def test_a_failing_task_does_not_stop_the_worker(tm: TaskManager) -> None:
    async def fail(ctx: TaskContext) -> None:
        raise BoomError

    failed, after = Task(execute=fail), Task(execute=ok)
    await tm.register_task(failed)
    await tm.register_task(after)
    await within(tm.wait())
    assert failed.status is TaskStatus.FAILED
    assert after.status is TaskStatus.COMPLETED


async def test_context_carries_id_attempt_deadline_and_name(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(timeout=30)
    gate = Gate()
    task = Task(execute=gate, name="report")
    await tm.register_task(task)
    await within(gate.started.wait())
    ctx = gate.contexts[0]
    assert ctx.task_id == task.id
    assert ctx.attempt == 1
    assert ctx.deadline == clock.now() + 30
    assert ctx.name == "report"
    assert ctx.cancelled is False
    ctx.raise_if_cancelled()  # does not raise while live
    gate.release.set()
    await within(tm.wait())


async def test_status_is_running_during_the_attempt(tm: TaskManager) -> None:
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    assert task.status is TaskStatus.RUNNING
    assert tm.get_active_tasks() == 1
    assert tm.get_metrics().running == 1
    gate.release.set()
    await within(tm.wait())
    assert tm.get_active_tasks() == 0
    assert tm.get_metrics().running == 0


async def test_max_workers_bounds_concurrent_attempts(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=3)
    gates = [Gate() for _ in range(4)]
    tasks = [Task(execute=gate) for gate in gates]
    for task in tasks:
        await tm.register_task(task)
    for gate in gates[:3]:
        await within(gate.started.wait())
    await settle()
    assert tm.get_active_tasks() == 3
    assert not gates[3].started.is_set()
    assert tasks[3].status is TaskStatus.QUEUED
    gates[0].release.set()
    await within(gates[3].started.wait())
    for gate in gates:
        gate.release.set()
    await within(tm.wait())
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}


async def test_sync_functions_run_concurrently_up_to_max_workers(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2)
    loop = asyncio.get_running_loop()
    gates = [SyncGate(loop), SyncGate(loop)]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
    for gate in gates:
        await within(gate.started.wait())
    assert tm.get_active_tasks() == 2
    assert gates[0].thread_ids != gates[1].thread_ids
    for gate in gates:
        gate.release.set()
    await within(tm.wait())


async def test_sync_workers_bounds_the_thread_pool(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2, sync_workers=1)
    loop = asyncio.get_running_loop()
    first, second = SyncGate(loop), SyncGate(loop)
    await tm.register_task(Task(execute=first))
    await tm.register_task(Task(execute=second))
    await within(first.started.wait())
    await until(lambda: tm.get_active_tasks() == 2)
    await settle()
    assert not second.started.is_set()  # one thread only: the second waits for it
    first.release.set()
    await within(second.started.wait())
    second.release.set()
    await within(tm.wait())


async def test_a_sync_attempt_cancelled_before_a_thread_takes_it_never_runs(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2, sync_workers=1)
    loop = asyncio.get_running_loop()
    first, second = SyncGate(loop), SyncGate(loop)
    blocker, waiting = Task(execute=first), Task(execute=second)
    await tm.register_task(blocker)
    await tm.register_task(waiting)
    await within(first.started.wait())
    await until(lambda: waiting.status is TaskStatus.RUNNING)  # submitted, but the only thread is busy
    await tm.cancel_task(waiting.id)
    await until(lambda: waiting.status is TaskStatus.CANCELLED)
    first.release.set()
    await within(tm.wait())
    assert not second.started.is_set()  # withdrawn from the thread queue: it never ran
    assert blocker.status is TaskStatus.COMPLETED


async def test_coroutine_and_plain_functions_in_turn_each_run_their_way(tm: TaskManager) -> None:
    # The executor remembers whether the last function was a coroutine function: a run
    # of one function takes that answer, a change of function asks again (both paths).
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []

    async def on_loop(ctx: TaskContext) -> None:
        seen.append(("async", threading.get_ident()))

    def on_thread(ctx: TaskContext) -> None:
        seen.append(("def", threading.get_ident()))

    order = [on_loop, on_loop, on_thread, on_thread, on_loop, on_thread]
    await tm.register_tasks([Task(execute=fn) for fn in order])
    await within(tm.wait())
    assert [kind for kind, _ in seen] == ["async", "async", "def", "def", "async", "def"]
    assert all((ident == loop_thread) == (kind == "async") for kind, ident in seen)
