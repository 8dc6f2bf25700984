"""Capacity (docs/task-manager.md#capacity): max_tasks counts only waiting tasks; a full queue refuses at once,
registering nothing."""

from __future__ import annotations

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.domain import QueueFullError, Task, TaskNotFoundError, TaskStatus
from tests.support.waits import until, within
from tests.unit.application.support import Gate, HookLog, MakeManager, failing, ok


async def test_full_queue_refuses_at_once_and_registers_nothing(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(max_tasks=2, hooks=log.hooks())
    tm.set_max_workers(0)
    await tm.register_task(Task(execute=ok))
    await tm.register_task(Task(execute=ok))
    extra = Task(execute=ok)
    with pytest.raises(QueueFullError, match=r"queue is full \(max 2\)") as info:
        await tm.register_task(extra)
    assert info.value.max_tasks == 2
    assert extra.status is TaskStatus.UNKNOWN
    with pytest.raises(TaskNotFoundError):
        tm.get_task(extra.id)
    assert len(tm.get_tasks()) == 2
    assert tm.get_metrics().scheduled == 2
    assert tm.get_metrics().queue_depth == 2
    assert log.kinds() == ["queued", "queued"]


async def test_refused_task_can_be_registered_once_there_is_room(make_manager: MakeManager) -> None:
    tm = make_manager(max_tasks=1)
    tm.set_max_workers(0)
    waiting = Task(execute=ok)
    await tm.register_task(waiting)
    extra = Task(execute=ok)
    with pytest.raises(QueueFullError):
        await tm.register_task(extra)
    await tm.cancel_task(waiting.id)
    await tm.register_task(extra)
    assert extra.status is TaskStatus.QUEUED
    tm.set_max_workers(1)
    await within(tm.wait())
    assert tm.get_task(extra.id).status is TaskStatus.COMPLETED


async def test_running_tasks_do_not_count(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=2, max_tasks=1)
    gates = [Gate(), Gate()]
    for gate in gates:
        await tm.register_task(Task(execute=gate))
        await within(gate.started.wait())
    # Two running, none waiting: one more fits, the next does not.
    await tm.register_task(Task(execute=ok))
    with pytest.raises(QueueFullError):
        await tm.register_task(Task(execute=ok))
    for gate in gates:
        gate.release.set()
    await within(tm.wait())


async def test_delayed_tasks_count(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_tasks=1)
    await tm.register_task_after(Task(execute=ok), 60)
    with pytest.raises(QueueFullError):
        await tm.register_task(Task(execute=ok))


async def test_tasks_in_retry_backoff_do_not_count(make_manager: MakeManager) -> None:
    tm = make_manager(max_tasks=1, retry_delay=10)
    backing_off = Task(execute=failing(5), retries=1)
    await tm.register_task(backing_off)
    await until(lambda: backing_off.status is TaskStatus.WAITING_RETRY)
    other = Task(execute=ok)
    await tm.register_task(other)  # the backing-off task leaves the room free
    assert other.status is TaskStatus.QUEUED


async def test_full_queue_at_retry_re_enqueue_fails_the_task(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(max_tasks=1, retry_delay=1, hooks=log.hooks())
    stream = tm.subscribe_results(5)
    retried = Task(execute=failing(5), retries=2)
    await tm.register_task(retried)
    await until(lambda: retried.status is TaskStatus.WAITING_RETRY)
    blocker = Task(execute=ok)
    await tm.register_task_after(blocker, 3600)  # takes the only waiting slot
    clock.advance(2)  # the retry falls due (about 1 s +-10%) and finds no room
    await until(lambda: retried.status.is_terminal)
    assert retried.status is TaskStatus.FAILED
    assert isinstance(retried.error, QueueFullError)
    assert retried.attempts == 1
    result = stream.get_nowait()
    assert result is not None
    assert result.task is retried
    assert isinstance(result.error, QueueFullError)
    finish = [c for c in log.finishes() if c[1] == retried.id]
    assert len(finish) == 1
    assert finish[0][2] is TaskStatus.FAILED
    assert blocker.status is TaskStatus.QUEUED
    assert tm.get_metrics().failed == 1
