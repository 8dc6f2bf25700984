"""Retention in the manager (docs/task-manager.md#retention): max_entries and TTL pruning of terminal tasks only,
after every finish,
at set time and on the background loop; the sweep interval."""

from __future__ import annotations

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskManager
from pyworker.domain import RetentionPolicy, Task, TaskNotFoundError, TaskStatus
from tests.support.waits import settle, until, within
from tests.unit.application.support import Gate, MakeManager, ok


def _known(tm: TaskManager, task: Task) -> bool:
    try:
        tm.get_task(task.id)
    except TaskNotFoundError:
        return False
    return True


async def _complete(tm: TaskManager, count: int, clock: ManualClock | None = None, step: float = 0) -> list[Task]:
    tasks = []
    for _ in range(count):
        task = Task(execute=ok)
        await tm.register_task(task)
        await within(tm.wait())
        tasks.append(task)
        if clock is not None and step:
            clock.advance(step)
    return tasks


async def test_setting_max_entries_prunes_the_oldest_terminal_at_once(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager()
    tasks = await _complete(tm, 4, clock, step=1)
    tm.set_retention_policy(RetentionPolicy(max_entries=2))
    assert [_known(tm, t) for t in tasks] == [False, False, True, True]
    assert len(tm.get_tasks()) == 2


async def test_max_entries_is_enforced_after_every_finish(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(max_entries=2))
    tasks = await _complete(tm, 5, clock, step=1)
    assert [_known(tm, t) for t in tasks] == [False, False, False, True, True]


async def test_pruning_follows_terminal_time_not_registration(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=2)
    slow_gate, fast_gate = Gate(), Gate()
    slow, fast = Task(execute=slow_gate), Task(execute=fast_gate)
    await tm.register_task(slow)
    await tm.register_task(fast)
    await within(slow_gate.started.wait())
    await within(fast_gate.started.wait())
    fast_gate.release.set()
    await until(lambda: fast.status is TaskStatus.COMPLETED)
    clock.advance(1)
    slow_gate.release.set()
    await within(tm.wait())
    tm.set_retention_policy(RetentionPolicy(max_entries=1))
    assert not _known(tm, fast)  # finished first, although registered second
    assert _known(tm, slow)


async def test_non_terminal_tasks_are_never_pruned(make_manager: MakeManager) -> None:
    tm = make_manager(retention=RetentionPolicy(max_entries=1))
    tm.set_max_workers(0)
    waiting = [Task(execute=ok) for _ in range(3)]
    for task in waiting:
        await tm.register_task(task)
    tm.set_retention_policy(RetentionPolicy(max_entries=1))
    assert len(tm.get_tasks()) == 3  # above the limit, but none is terminal
    assert all(t.status is TaskStatus.QUEUED for t in waiting)


async def test_ttl_loop_removes_expired_tasks(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=10))
    [task] = await _complete(tm, 1)
    clock.advance(5)  # interval = clamp(ttl / 2, 1 s, 1 min) = 5 s
    await settle()
    assert _known(tm, task)
    clock.advance(5)
    await settle()
    assert not _known(tm, task)


async def test_ttl_keeps_tasks_younger_than_ttl(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=10))
    [old] = await _complete(tm, 1)
    clock.advance(5)
    await settle()
    [young] = await _complete(tm, 1)
    clock.advance(5)
    await settle()
    assert not _known(tm, old)
    assert _known(tm, young)


async def test_ttl_ages_cancelled_tasks_by_cancel_time(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=4))
    tm.set_max_workers(0)
    task = Task(execute=ok)
    await tm.register_task(task)
    clock.advance(3)
    await settle()
    await tm.cancel_task(task.id)
    clock.advance(2)
    await settle()
    assert _known(tm, task)  # 2 s since cancel (5 s since registration)
    clock.advance(2)
    await settle()
    assert not _known(tm, task)


async def test_ttl_never_removes_running_tasks(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=2), timeout=3600)
    gate = Gate()
    task = Task(execute=gate)
    await tm.register_task(task)
    await within(gate.started.wait())
    clock.advance(10)
    await settle()
    assert _known(tm, task)
    gate.release.set()
    await within(tm.wait())


async def test_cleanup_interval_sets_the_sweep_period(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=1, cleanup_interval=100))
    [task] = await _complete(tm, 1)
    clock.advance(50)
    await settle()
    await _complete(tm, 1)  # a finish tries to prune, but no sweep is due yet
    assert _known(tm, task)
    clock.advance(50)
    await settle()
    assert not _known(tm, task)


async def test_set_retention_policy_sweeps_at_once(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    [task] = await _complete(tm, 1)
    clock.advance(30)
    tm.set_retention_policy(RetentionPolicy(ttl=10))
    assert not _known(tm, task)


async def test_replacing_the_policy_is_read_by_the_loop(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retention=RetentionPolicy(ttl=100))
    [task] = await _complete(tm, 1)
    tm.set_retention_policy(RetentionPolicy(ttl=2, cleanup_interval=1))
    clock.advance(60)  # the running loop still sleeps its first (50 s) interval, then re-reads
    await settle()
    clock.advance(1)
    await settle()
    assert not _known(tm, task)


async def test_removed_task_is_gone_from_get_tasks(make_manager: MakeManager) -> None:
    tm = make_manager(retention=RetentionPolicy(max_entries=1))
    first, second = await _complete(tm, 2)
    assert tm.get_tasks() == [second]
    with pytest.raises(TaskNotFoundError):
        tm.get_task(first.id)


async def test_no_policy_keeps_everything(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    tasks = await _complete(tm, 3)
    clock.advance(3600)
    await settle()
    assert all(_known(tm, t) for t in tasks)


async def test_first_policy_on_a_busy_manager_evicts_only_finished_tasks_oldest_first(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    """No policy yet, so finish order was never tracked: installing one must find the finished tasks among
    queued and running ones, and evict them by when they finished, not by when they were registered."""
    tm = make_manager()
    [completed] = await _complete(tm, 1)  # finished first
    clock.advance(1)
    gate = Gate()
    running = Task(execute=gate)
    await tm.register_task(running)
    await within(gate.started.wait())
    registered_first, registered_second = Task(execute=ok), Task(execute=ok)
    queued = [Task(execute=ok), Task(execute=ok)]
    for task in (registered_first, registered_second, *queued):
        await tm.register_task(task)
    await tm.cancel_task(registered_second.id)  # finished second, although registered later
    clock.advance(1)
    await tm.cancel_task(registered_first.id)  # finished last
    assert len(tm.get_tasks()) == 6

    tm.set_retention_policy(RetentionPolicy(max_entries=4))
    assert not _known(tm, completed)
    assert not _known(tm, registered_second)
    assert _known(tm, registered_first)  # the youngest finished task stays
    assert all(_known(tm, t) for t in (running, *queued))
    assert running.status is TaskStatus.RUNNING
    assert {t.status for t in queued} == {TaskStatus.QUEUED}

    tm.set_retention_policy(RetentionPolicy(max_entries=1))  # below the live count: every finished task goes
    assert set(tm.get_tasks()) == {running, *queued}
    gate.release.set()
    await within(tm.wait())
    assert {t.status for t in (running, *queued)} == {TaskStatus.COMPLETED}
