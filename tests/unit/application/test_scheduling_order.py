"""Dispatch order (docs/task-manager.md#priorities-weights-queues-the-exact-order, docs/differences.md): priority,
weight, FIFO tie-break, weighted round robin between queues.

Every test makes all the tasks wait at once (one worker blocked by a gate, or a
common run_at reached in one clock advance) so the order is the scheduler's alone.
"""

from __future__ import annotations

import uuid

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskManager
from pyworker.domain import Task
from tests.support.waits import within
from tests.unit.application.support import Gate, MakeManager, Recorder


async def _run_behind_gate(tm: TaskManager, tasks: list[Task]) -> None:
    """Block the single worker, register ``tasks`` while it is busy, then let it go."""
    gate = Gate()
    await tm.register_task(Task(execute=gate, priority=-100))
    await within(gate.started.wait())
    for task in tasks:
        await tm.register_task(task)
    gate.release.set()
    await within(tm.wait())


async def _run_at_once(tm: TaskManager, clock: ManualClock, tasks: list[Task]) -> None:
    """Register ``tasks`` with one common run_at, then make them all due in one advance."""
    run_at = clock.now() + 10
    for task in tasks:
        await tm.register_task_at(task, run_at)
    clock.advance(10)
    await within(tm.wait())


async def test_lower_priority_number_runs_first(make_manager: MakeManager) -> None:
    tm = make_manager()
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"p{p}"), priority=p) for p in (10, 1, 5, -3, 7)]
    await _run_behind_gate(tm, tasks)
    assert rec.order == ["p-3", "p1", "p5", "p7", "p10"]


async def test_higher_weight_wins_among_equal_priority(make_manager: MakeManager) -> None:
    tm = make_manager()
    rec = Recorder()
    tasks = [
        Task(execute=rec.fn("w1"), priority=1, weight=1),
        Task(execute=rec.fn("w5"), priority=1, weight=5),
        Task(execute=rec.fn("p0w1"), priority=0, weight=1),
        Task(execute=rec.fn("w3"), priority=1, weight=3),
    ]
    await _run_behind_gate(tm, tasks)
    assert rec.order == ["p0w1", "w5", "w3", "w1"]


async def test_non_positive_weight_counts_as_one(make_manager: MakeManager) -> None:
    tm = make_manager()
    rec = Recorder()
    tasks = [
        Task(execute=rec.fn("w0"), weight=0),
        Task(execute=rec.fn("w2"), weight=2),
        Task(execute=rec.fn("w-1"), weight=-1),
        Task(execute=rec.fn("w1"), weight=1),
    ]
    await _run_behind_gate(tm, tasks)
    # w0, w-1 and w1 all weigh 1: FIFO among them, after w2.
    assert rec.order == ["w2", "w0", "w-1", "w1"]


async def test_equal_priority_and_weight_is_fifo_not_id_order(make_manager: MakeManager) -> None:
    tm = make_manager()
    rec = Recorder()
    # Ids descending, so id order would be the exact reverse of registration order.
    ids = [uuid.UUID(int=(0xFF - i) << 120 | 1) for i in range(6)]
    tasks = [Task(execute=rec.fn(str(i)), id=task_id) for i, task_id in enumerate(ids)]
    await _run_behind_gate(tm, tasks)
    assert rec.order == ["0", "1", "2", "3", "4", "5"]


async def test_fifo_tie_break_also_among_tasks_due_together(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    ids = [uuid.UUID(int=(0xFF - i) << 120 | 1) for i in range(5)]
    tasks = [Task(execute=rec.fn(str(i)), id=task_id) for i, task_id in enumerate(ids)]
    await _run_at_once(tm, clock, tasks)
    assert rec.order == ["0", "1", "2", "3", "4"]


async def test_delayed_tasks_due_together_follow_priority(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"p{p}"), priority=p) for p in (3, 1, 2, 0)]
    await _run_at_once(tm, clock, tasks)
    assert rec.order == ["p0", "p1", "p2", "p3"]


async def test_weighted_round_robin_between_queues(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(queue_weights={"a": 2, "b": 1})
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"{q}{i}"), queue=q) for q in ("a", "b") for i in range(3)]
    await _run_at_once(tm, clock, tasks)
    # docs/task-manager.md#priorities-weights-queues-the-exact-order example: a, a, b, a, b, b.
    assert rec.order == ["a0", "a1", "b0", "a2", "b1", "b2"]


async def test_queues_without_weights_alternate(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager()
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"{q}{i}"), queue=q) for q in ("x", "y") for i in range(3)]
    await _run_at_once(tm, clock, tasks)
    assert rec.order == ["x0", "y0", "x1", "y1", "x2", "y2"]


async def test_round_robin_uses_normalised_queue_names_and_weights(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(queue_weights={" a ": 3, "b": 0})
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"a{i}"), queue="  a ") for i in range(4)]
    tasks += [Task(execute=rec.fn(f"b{i}"), queue="b") for i in range(2)]
    await _run_at_once(tm, clock, tasks)
    assert rec.order == ["a0", "a1", "a2", "b0", "a3", "b1"]
    assert {t.queue for t in tasks} == {"a", "b"}


async def test_priority_orders_tasks_within_each_queue(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(queue_weights={"a": 1, "b": 1})
    rec = Recorder()
    tasks = [
        Task(execute=rec.fn("a-low"), queue="a", priority=5),
        Task(execute=rec.fn("a-high"), queue="a", priority=1),
        Task(execute=rec.fn("b-low"), queue="b", priority=9),
        Task(execute=rec.fn("b-high"), queue="b", priority=0),
    ]
    await _run_at_once(tm, clock, tasks)
    # Queues alternate; the priority across queues does not matter, within a queue it does.
    assert rec.order == ["a-high", "b-high", "a-low", "b-low"]


async def test_an_empty_queue_is_skipped(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(queue_weights={"a": 1, "b": 5})
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"a{i}"), queue="a") for i in range(3)]
    await _run_at_once(tm, clock, tasks)
    assert rec.order == ["a0", "a1", "a2"]


async def test_tasks_without_queue_go_to_the_default_queue(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(default_queue="main", queue_weights={"main": 2, "other": 1})
    rec = Recorder()
    tasks = [Task(execute=rec.fn(f"m{i}")) for i in range(3)]
    tasks += [Task(execute=rec.fn(f"o{i}"), queue="other") for i in range(3)]
    await _run_at_once(tm, clock, tasks)
    assert {t.queue for t in tasks[:3]} == {"main"}
    # "main" sorts before "other": m, m, o, m, o, o.
    assert rec.order == ["m0", "m1", "o0", "m2", "o1", "o2"]
