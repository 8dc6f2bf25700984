"""The ready queue (the waiting room): per-queue priority heaps, the delayed heap, capacity and wake-ups."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Mapping

from pyworker.application.ports import Clock, TimerHandle
from pyworker.domain import MAX_PRIORITY, QueueFullError, Task, WeightedRoundRobin, normalize_queue_weights

_Delayed = tuple[float, int, Task]  # (run_at, seq, task)

# A ready entry is one int that sorts like domain.ordering_key(priority, weight, seq):
# priority (offset to be non-negative), then inverted weight, then seq. Plain ints
# compare in C and are not tracked by the garbage collector, unlike a tuple per task.
_SEQ_BITS = 64
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_WEIGHT_BITS = 64
_MAX_WEIGHT = (1 << _WEIGHT_BITS) - 1
_PRIORITY_SHIFT = _SEQ_BITS + _WEIGHT_BITS
_PRIORITY_OFFSET = MAX_PRIORITY + 1


def ready_key(priority: int, weight: int, seq: int) -> int:
    """The heap key of a ready task (see the module note)."""
    inverted = _MAX_WEIGHT - (weight if weight < _MAX_WEIGHT else _MAX_WEIGHT)
    return ((priority + _PRIORITY_OFFSET) << _PRIORITY_SHIFT) | (inverted << _SEQ_BITS) | seq


class ReadyQueue:
    """Waiting tasks, ready or delayed. Loop-confined (no locks).

    Capacity counts only waiting tasks (docs/task-manager.md#capacity). Removal is lazy: a removed
    task's heap entry stays until popped and is skipped then, so cancel and
    claim are O(1). Workers pull with ``get()``; the best ready task across
    queues (weighted round robin, then priority/weight/FIFO) comes out.
    """

    def __init__(self, clock: Clock, max_tasks: int, queue_weights: Mapping[str, int] | None = None) -> None:
        self._clock = clock
        self.max_tasks = max_tasks
        self._heaps: dict[str, list[int]] = {}
        self._ready: dict[int, Task] = {}  # seq -> task, for live ready entries
        self._counts: dict[str, int] = {}
        self._delayed: list[_Delayed] = []
        self._live: dict[Task, int] = {}  # task (identity) -> seq of its live entry
        self._delayed_live = 0
        self._rr = WeightedRoundRobin(weights=normalize_queue_weights(queue_weights))
        self._seq = itertools.count()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._single: str | None = None  # the queue name while there is exactly one

    def __len__(self) -> int:
        return len(self._live)

    @property
    def has_capacity(self) -> bool:
        return len(self._live) < self.max_tasks

    def push(self, task: Task) -> None:
        """Add a task (ready, or delayed when ``run_at`` is in the future).

        Raises:
            QueueFullError: ``max_tasks`` tasks already wait; nothing changed.
        """
        if len(self._live) >= self.max_tasks:
            raise QueueFullError(max_tasks=self.max_tasks)
        seq = next(self._seq)
        self._live[task] = seq
        run_at = task.run_at
        if run_at is not None and run_at > self._clock.now():
            heapq.heappush(self._delayed, (run_at, seq, task))
            self._delayed_live += 1
            if self._timer_at is None or run_at < self._timer_at:
                self._arm(run_at)
            return
        task.run_at = None
        self._push_ready(task, seq)
        if self._waiters:
            self._wake(1)

    def remove(self, task: Task) -> bool:
        """Take a waiting task out (cancel, or claim by execute_task). False if absent."""
        seq = self._live.pop(task, None)
        if seq is None:
            return False
        # A delayed task keeps its run_at until it is promoted to its ready heap.
        if task.run_at is not None:
            self._delayed_live -= 1
        else:
            del self._ready[seq]
            self._counts[task.queue] -= 1
        return True

    def pop_ready(self) -> Task | None:
        """The next task to run now, or None."""
        if self._delayed_live and self._delayed[0][0] <= self._clock.now():
            self._promote_due()
        name = self._single
        if name is not None:  # the common case: one queue, no round robin needed
            if not self._counts[name]:
                return None
        else:
            picked = self._rr.pick(self._has_work)
            if picked is None:
                return None
            name = picked
        heap = self._heaps[name]
        ready = self._ready
        while heap:
            task = ready.pop(heapq.heappop(heap) & _SEQ_MASK, None)
            if task is not None:  # else removed while waiting
                del self._live[task]
                self._counts[name] -= 1
                return task
        return None  # pragma: no cover - counts say there was a live entry

    async def get(self) -> Task:
        """Wait for and pop the next ready task."""
        while True:
            task = self.pop_ready()
            if task is not None:
                return task
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Pass a wake-up we consumed on to the next waiter.
                if waiter.done() and not waiter.cancelled():
                    self._wake(1)
                raise

    @property
    def delayed(self) -> int:
        return self._delayed_live

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None

    # -- internals -------------------------------------------------------------

    def _has_work(self, name: str) -> bool:
        return self._counts.get(name, 0) > 0

    def _new_heap(self, name: str) -> list[int]:
        heap: list[int] = []
        self._heaps[name] = heap
        self._counts[name] = 0
        self._rr.add(name)
        self._single = name if len(self._heaps) == 1 else None
        return heap

    def _push_ready(self, task: Task, seq: int) -> None:
        name = task.queue
        heap = self._heaps.get(name)
        if heap is None:
            heap = self._new_heap(name)
        heapq.heappush(heap, ready_key(task.priority, task.weight, seq))
        self._ready[seq] = task
        self._counts[name] += 1

    def _promote_due(self) -> int:
        now = self._clock.now()
        moved = 0
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, seq, task = heapq.heappop(delayed)
            if self._live.get(task) != seq:
                continue  # removed while delayed
            self._delayed_live -= 1
            task.run_at = None
            self._push_ready(task, seq)
            moved += 1
        return moved

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._clock.call_later(when - self._clock.now(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        moved = self._promote_due()
        # Drop stale heads so the next timer is armed for a live task.
        while self._delayed and self._live.get(self._delayed[0][2]) != self._delayed[0][1]:
            heapq.heappop(self._delayed)
        if self._delayed:
            self._arm(self._delayed[0][0])
        if moved:
            self._wake(moved)

    def _wake(self, count: int) -> None:
        waiters = self._waiters
        while count and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1
