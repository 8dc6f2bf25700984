"""The ready queue's exact order against a reference model (docs/adr/0003-fifo-tie-break.md).

A lane keeps one band's entries in a sorted run beside a heap (application/ready_queue.py);
whatever mix of pushes, removals, re-pushes and delayed promotions comes, the tasks must
come out as one sorted list of (priority, -weight, seq) would give them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pyworker.application.ready_queue import ReadyQueue
from pyworker.domain import Task


class _Timer:
    def cancel(self) -> None:
        pass


class _Clock:
    """Time moves only when the test says; timers never fire (pop_ready promotes due tasks)."""

    def __init__(self) -> None:
        self.time = 1_000.0

    def now(self) -> float:
        return self.time

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return _Timer()

    async def sleep(self, delay: float) -> None:  # pragma: no cover - not used here
        pass


async def _noop(ctx: Any) -> None:  # pragma: no cover - never run
    return None


def _task(priority: int, weight: int, run_at: float | None = None) -> Task:
    return Task(execute=_noop, priority=priority, weight=weight, queue="q", run_at=run_at)


class _Model:
    """The rule, kept the slow way: every waiting task with its key, the smallest ready one next."""

    def __init__(self) -> None:
        self.seq = 0
        self.waiting: dict[Task, tuple[int, int, int, float | None]] = {}

    def push(self, task: Task, run_at: float | None) -> None:
        self.waiting[task] = (task.priority, -task.weight, self.seq, run_at)
        self.seq += 1

    def pop(self, now: float) -> Task | None:
        ready = [(key[:3], task) for task, key in self.waiting.items() if key[3] is None or key[3] <= now]
        if not ready:
            return None
        _, task = min(ready, key=lambda item: item[0])
        del self.waiting[task]
        return task


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(-1, 1), st.integers(1, 2), st.sampled_from([None, 1.0, 3.0])),
        st.tuples(st.just("pop"), st.just(0), st.just(0), st.none()),
        st.tuples(st.just("remove"), st.integers(0, 50), st.just(0), st.none()),
        st.tuples(st.just("repush"), st.integers(0, 50), st.just(0), st.none()),
        st.tuples(st.just("advance"), st.just(0), st.just(0), st.sampled_from([1.0, 2.0])),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_tasks_come_out_in_the_exact_order_of_the_reference(ops: list[tuple[str, int, int, float | None]]) -> None:
    clock = _Clock()
    queue = ReadyQueue(clock, max_tasks=1_000)
    model = _Model()
    removed: list[Task] = []
    for op, a, b, c in ops:
        if op == "push":
            run_at = clock.time + c if c is not None else None
            task = _task(a, b, run_at)
            queue.push(task)
            model.push(task, run_at)
        elif op == "pop":
            assert queue.pop_ready() is model.pop(clock.time)
        elif op == "remove" and model.waiting:
            task = list(model.waiting)[a % len(model.waiting)]
            assert queue.remove(task)
            del model.waiting[task]
            removed.append(task)
        elif op == "repush" and removed:  # execute_task's claim undone: a new seq, a new entry
            task = removed.pop(a % len(removed))
            task.run_at = None
            queue.push(task)
            model.push(task, None)
        elif op == "advance":
            clock.time += c or 0.0
        assert len(queue) == len(model.waiting)
    clock.time += 10.0  # everything due: drain and compare the rest
    while (expected := model.pop(clock.time)) is not None:
        assert queue.pop_ready() is expected
    assert queue.pop_ready() is None
    assert len(queue) == 0


def test_a_band_change_and_a_higher_priority_push_keep_the_order() -> None:
    # The run holds one band; other pushes go to the heap; the smaller head comes out.
    queue = ReadyQueue(_Clock(), max_tasks=10)
    low1, low2 = _task(5, 1), _task(5, 1)
    high = _task(-5, 1)
    heavy = _task(5, 3)  # same priority, larger weight: before the other priority-5 tasks
    for task in (low1, low2, high, heavy):
        queue.push(task)
    assert [queue.pop_ready() for _ in range(4)] == [high, heavy, low1, low2]
    assert queue.pop_ready() is None
