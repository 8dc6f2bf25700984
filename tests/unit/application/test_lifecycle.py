"""Lifecycle (docs/task-manager.md#wait-stop_graceful-stop_now, docs/differences.md): start, wait (after hooks and
publication), stop_graceful, stop_now,
async with, set_max_workers grow and shrink, get_active_tasks, is_empty."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskHooks, TaskManager
from pyworker.domain import (
    NotAcceptingTasksError,
    Task,
    TaskCancelledError,
    TaskContext,
    TaskStatus,
    WaitTimeoutError,
)
from tests.support.waits import collect, settle, until, within
from tests.unit.application.support import Gate, MakeManager, Recorder, SyncGate, ok

# -- start ---------------------------------------------------------------------------------


async def test_start_is_idempotent(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1)
    await tm.start()
    await tm.start()
    tm.start_workers()
    gates = [Gate(), Gate()]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
    await within(gates[0].started.wait())
    await settle()
    assert tm.get_active_tasks() == 1
    assert not gates[1].started.is_set()
    for gate in gates:
        gate.release.set()
    await within(tm.wait())


async def test_start_after_stop_does_nothing(make_manager: MakeManager) -> None:
    tm = make_manager()
    await tm.start()
    await within(tm.stop_now())
    await tm.start()
    with pytest.raises(NotAcceptingTasksError):
        await tm.register_task(Task(execute=ok))


# -- wait ----------------------------------------------------------------------------------


async def test_wait_without_tasks_returns_at_once(make_manager: MakeManager) -> None:
    tm = make_manager()
    await within(tm.wait())  # not even started
    await within(tm.wait(0))


async def test_wait_returns_after_every_task_is_terminal(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2)
    gates = [Gate(), Gate()]
    tasks = [Task(execute=g) for g in gates]
    for task in tasks:
        await tm.register_task(task)
    waiter = asyncio.ensure_future(tm.wait())
    await within(gates[0].started.wait())
    gates[0].release.set()
    await until(lambda: tasks[0].status is TaskStatus.COMPLETED)
    await settle()
    assert not waiter.done()
    gates[1].release.set()
    await within(waiter)
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 2


async def test_wait_returns_after_hooks_and_publication(make_manager: MakeManager) -> None:
    finished: list[object] = []
    tm = make_manager(hooks=TaskHooks(on_finish=lambda task, *_: finished.append(task.id)))
    stream = tm.subscribe_results(10)
    tasks = [Task(execute=ok) for _ in range(4)]
    for task in tasks:
        await tm.register_task(task)
    await within(tm.wait())
    assert finished == [t.id for t in tasks]
    assert len(stream) == 4
    metrics = tm.get_metrics()
    assert (metrics.completed, metrics.task_latency_count) == (4, 4)


async def test_wait_timeout_raises_and_tasks_keep_running(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    waiter = asyncio.ensure_future(tm.wait(5))
    await settle()
    clock.advance(4.5)
    await settle()
    assert not waiter.done()
    clock.advance(0.5)
    with pytest.raises(WaitTimeoutError):
        await within(waiter)
    assert task.status is TaskStatus.RUNNING
    gate.release.set()
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


async def test_wait_timeout_is_disarmed_once_done(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    gate = Gate()
    await tm.register_task(Task(execute=gate))
    await within(gate.started.wait())
    waiter = asyncio.ensure_future(tm.wait(5))
    await settle()
    gate.release.set()
    await within(waiter)
    clock.advance(10)  # the expired timer must not cancel anything now
    await settle()
    assert asyncio.current_task() is not None
    assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]


async def test_wait_covers_delayed_and_backoff_tasks(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    task = Task(execute=ok)
    await tm.register_task_after(task, 10)
    waiter = asyncio.ensure_future(tm.wait())
    await settle()
    assert not waiter.done()
    clock.advance(10)
    await within(waiter)
    assert task.status is TaskStatus.COMPLETED


# -- stop_graceful -------------------------------------------------------------------------


async def test_stop_graceful_refuses_new_tasks_and_waits(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = Gate()
    running = Task(execute=gate)
    waiting = Task(execute=ok)
    await tm.register_task(running)
    await within(gate.started.wait())
    await tm.register_task(waiting)
    stopper = asyncio.ensure_future(tm.stop_graceful())
    await settle()
    assert not stopper.done()
    with pytest.raises(NotAcceptingTasksError):
        await tm.register_task(Task(execute=ok))
    gate.release.set()
    await within(stopper)
    assert running.status is TaskStatus.COMPLETED
    assert waiting.status is TaskStatus.COMPLETED


async def test_stop_graceful_timeout_keeps_running_but_refusing(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    stopper = asyncio.ensure_future(tm.stop_graceful(2))
    await settle()
    clock.advance(2)
    with pytest.raises(WaitTimeoutError):
        await within(stopper)
    assert task.status is TaskStatus.RUNNING
    with pytest.raises(NotAcceptingTasksError):
        await tm.register_task(Task(execute=ok))
    gate.release.set()
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED
    await within(tm.stop_graceful())


async def test_stop_graceful_ends_result_streams(make_manager: MakeManager) -> None:
    tm = make_manager()
    stream = tm.subscribe_results(5)
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.stop_graceful())
    received = await collect(stream)
    assert [r.task for r in received] == [task]


# -- stop_now ------------------------------------------------------------------------------


async def test_stop_now_cancels_waiting_and_running(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    gate = Gate()
    running = Task(execute=gate)
    await tm.register_task(running)
    await within(gate.started.wait())
    waiting = Task(execute=ok)
    delayed = Task(execute=ok)
    await tm.register_task(waiting)
    await tm.register_task_after(delayed, 30)
    await within(tm.stop_now())
    assert gate.cancelled
    assert [t.status for t in (running, waiting, delayed)] == [TaskStatus.CANCELLED] * 3
    assert isinstance(waiting.error, TaskCancelledError)
    await within(tm.wait())
    assert tm.get_active_tasks() == 0


async def test_stop_now_does_not_wait_for_a_sync_function_that_ignores_its_context(make_manager: MakeManager) -> None:
    tm = make_manager()
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    release = threading.Event()
    returned = threading.Event()

    def stubborn(ctx: TaskContext) -> str:
        loop.call_soon_threadsafe(started.set)
        release.wait(1.0)  # never released by the test; the timeout only bounds a failure
        returned.set()
        return "too late"

    task = Task(execute=stubborn)
    await tm.register_task(task)
    await within(started.wait())
    try:
        await within(tm.stop_now())
        assert not returned.is_set()  # stop_now came back while the thread was still blocked
        assert task.status is TaskStatus.CANCELLED
        assert isinstance(task.error, TaskCancelledError)
    finally:
        release.set()


async def test_sync_function_returning_after_cancel_completes_at_stop_now(make_manager: MakeManager) -> None:
    tm = make_manager()
    gate = SyncGate(asyncio.get_running_loop())
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    await within(tm.stop_now())
    await until(lambda: task.status.is_terminal)
    assert task.status in {TaskStatus.CANCELLED, TaskStatus.COMPLETED}  # it returned at once when signalled
    assert tm.get_active_tasks() == 0


async def test_stop_now_is_idempotent(make_manager: MakeManager) -> None:
    tm = make_manager()
    stream = tm.subscribe_results(5)
    await tm.register_task(Task(execute=ok))
    await within(tm.stop_now())
    await within(tm.stop_now())
    assert tm.get_metrics().cancelled == 1  # cancelled once, not twice
    assert len(await collect(stream)) == 1
    assert stream.closed


async def test_stop_now_delivers_buffered_results_then_ends_streams(make_manager: MakeManager) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    stream = tm.subscribe_results(10)
    tasks = [Task(execute=ok) for _ in range(3)]
    for task in tasks:
        await tm.register_task(task)
    await within(tm.stop_now())
    received = await collect(stream)
    assert [r.task for r in received] == tasks
    assert all(isinstance(r.error, TaskCancelledError) for r in received)
    assert stream.closed


async def test_subscribing_after_stop_gives_an_ended_stream(make_manager: MakeManager) -> None:
    tm = make_manager()
    await within(tm.stop_now())
    stream = tm.subscribe_results(3)
    assert stream.closed
    assert await collect(stream) == []


# -- async with ----------------------------------------------------------------------------


async def test_async_with_starts_and_stops_gracefully(clock: ManualClock) -> None:
    gate = Gate()
    task = Task(execute=gate)

    async def use() -> TaskManager:
        async with TaskManager(max_workers=1, tasks_per_second=0, clock=clock) as tm:
            await tm.register_task(task)
            await within(gate.started.wait())
            gate.release.set()
        return tm

    tm = await within(use())  # the exit's graceful stop is bounded too
    assert task.status is TaskStatus.COMPLETED
    with pytest.raises(NotAcceptingTasksError):
        await tm.register_task(Task(execute=ok))


async def test_async_with_stops_now_on_error(clock: ManualClock) -> None:
    gate = Gate()
    task = Task(execute=gate)

    async def use() -> None:
        async with TaskManager(max_workers=1, tasks_per_second=0, clock=clock) as tm:
            await tm.register_task(task)
            await within(gate.started.wait())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await within(use())
    assert gate.cancelled
    assert task.status is TaskStatus.CANCELLED


# -- set_max_workers ------------------------------------------------------------------------


async def test_set_max_workers_grows_the_pool(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1)
    gates = [Gate() for _ in range(3)]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
    await within(gates[0].started.wait())
    await settle()
    assert tm.get_active_tasks() == 1
    tm.set_max_workers(3)
    for gate in gates:
        await within(gate.started.wait())
    assert tm.get_active_tasks() == 3
    for gate in gates:
        gate.release.set()
    await within(tm.wait())


async def test_set_max_workers_shrinks_after_running_tasks_finish(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=3)
    first = [Gate() for _ in range(3)]
    first_tasks = [Task(execute=g) for g in first]
    for task in first_tasks:
        await tm.register_task(task)
    for gate in first:
        await within(gate.started.wait())
    tm.set_max_workers(1)
    await settle()
    assert tm.get_active_tasks() == 3  # running attempts are not interrupted
    second = [Gate() for _ in range(3)]
    for gate in second:
        await tm.register_task(Task(execute=gate))
    for gate in first:
        gate.release.set()
    await within(second[0].started.wait())
    await settle()
    assert [t.status for t in first_tasks] == [TaskStatus.COMPLETED] * 3
    assert tm.get_active_tasks() == 1
    assert sum(g.started.is_set() for g in second) == 1
    for gate in second:
        gate.release.set()
    await within(tm.wait())


async def test_zero_workers_hold_tasks_until_grown(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1)
    await tm.start()
    tm.set_max_workers(0)
    await settle()
    rec = Recorder()
    task = Task(execute=rec.fn("held"))
    await tm.register_task(task)
    await settle()
    assert rec.order == []
    assert task.status is TaskStatus.QUEUED
    tm.set_max_workers(1)
    await within(tm.wait())
    assert rec.order == ["held"]


async def test_shrink_then_grow_at_once_keeps_a_worker(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1)
    await tm.start()
    await settle()  # the worker is parked, waiting for work
    tm.set_max_workers(0)
    tm.set_max_workers(1)  # no yield in between
    rec = Recorder()
    task = Task(execute=rec.fn("runs"))
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.COMPLETED)
    assert rec.order == ["runs"]


async def test_negative_max_workers_is_ignored(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2)
    tm.set_max_workers(-1)
    assert tm.max_workers == 2
    gates = [Gate(), Gate()]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
    for gate in gates:
        await within(gate.started.wait())
    assert tm.get_active_tasks() == 2
    for gate in gates:
        gate.release.set()
    await within(tm.wait())


# -- is_empty / get_active_tasks --------------------------------------------------------------


async def test_is_empty_tracks_waiting_tasks(make_manager: MakeManager) -> None:
    tm = make_manager()
    assert tm.is_empty()
    gate = Gate()
    await tm.register_task(Task(execute=gate))
    await within(gate.started.wait())
    assert tm.is_empty()  # running tasks are not waiting
    await tm.register_task(Task(execute=ok))
    assert not tm.is_empty()
    gate.release.set()
    await within(tm.wait())
    assert tm.is_empty()
