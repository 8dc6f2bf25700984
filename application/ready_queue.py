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


class _Lane:
    """One queue's ready entries, in two parts whose smaller head comes out next.

    ``run`` holds the seqs of one priority and weight (its band, whose key is
    ``base | seq``) in rising order, and ``tasks`` their tasks: a push of that band
    appends (seq grows), and the head pops from the left, with no key to build or
    compare while the heap is empty. Any other push goes to the heap as
    ``(ready_key, task)``. The order out is the keys' order exactly, as one heap
    would give; it only costs less.
    """

    __slots__ = ("base", "count", "heap", "priority", "run", "tasks", "weight")

    def __init__(self) -> None:
        self.heap: list[tuple[int, Task]] = []
        self.run: deque[int] = deque()
        self.tasks: deque[Task] = deque()
        self.priority: int | None = None  # the run's band
        self.weight: int | None = None
        self.base = 0
        self.count = 0  # live entries

    def add(self, task: Task, seq: int) -> None:
        """Any entry (a delayed task keeps its older seq: it may not extend the run)."""
        run = self.run
        priority, weight = task.priority, task.weight
        if not run:
            self.priority, self.weight, self.base = priority, weight, ready_key(priority, weight, 0)
        elif priority != self.priority or weight != self.weight or seq < run[-1]:
            heapq.heappush(self.heap, (ready_key(priority, weight, seq), task))
            return
        run.append(seq)
        self.tasks.append(task)


class ReadyQueue:
    """Waiting tasks, ready or delayed. Loop-confined (no locks).

    Capacity counts only waiting tasks (docs/task-manager.md#capacity). Removal is
    lazy: a removed task's entry stays until popped and is skipped then (``waiting``
    no longer holds that entry's seq for it), so cancel and claim are O(1). Workers
    pull with ``get()``; the best ready task across queues (weighted round robin,
    then priority/weight/FIFO) comes out.
    """

    def __init__(self, clock: Clock, max_tasks: int, queue_weights: Mapping[str, int] | None = None) -> None:
        self._clock = clock
        self.max_tasks = max_tasks
        self._lanes: dict[str, _Lane] = {}
        self._delayed: list[_Delayed] = []
        #: Every waiting task (identity) -> the seq of its live entry. Read it, never change it:
        #: ``len(queue.waiting) < queue.max_tasks`` is has_capacity without a call.
        self.waiting: dict[Task, int] = {}
        self._delayed_live = 0
        self._rr = WeightedRoundRobin(weights=normalize_queue_weights(queue_weights))
        self._seq = itertools.count()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: TimerHandle | None = None
        self._timer_at: float | None = None
        self._single: _Lane | None = None  # the lane while there is exactly one queue

    def __len__(self) -> int:
        return len(self.waiting)

    @property
    def has_capacity(self) -> bool:
        return len(self.waiting) < self.max_tasks

    def push(self, task: Task) -> None:
        """Add a task (ready, or delayed when ``run_at`` is in the future).

        Raises:
            QueueFullError: ``max_tasks`` tasks already wait; nothing changed.
        """
        if len(self.waiting) >= self.max_tasks:
            raise QueueFullError(max_tasks=self.max_tasks)
        seq = next(self._seq)
        self.waiting[task] = seq
        run_at = task.run_at
        if run_at is not None and run_at > self._clock.now():
            heapq.heappush(self._delayed, (run_at, seq, task))
            self._delayed_live += 1
            if self._timer_at is None or run_at < self._timer_at:
                self._arm(run_at)
            return
        task.run_at = None
        lane = self._lanes.get(task.queue)
        if lane is None:
            lane = self._new_lane(task.queue)
        run = lane.run
        if run and task.priority == lane.priority and task.weight == lane.weight:
            run.append(seq)  # the newest seq extends the run of its band (lane.add, inlined)
            lane.tasks.append(task)
        else:
            lane.add(task, seq)
        lane.count += 1
        if self._waiters:
            self._wake(1)

    def remove(self, task: Task) -> bool:
        """Take a waiting task out (cancel, or claim by execute_task). False if absent."""
        seq = self.waiting.pop(task, None)
        if seq is None:
            return False
        # A delayed task keeps its run_at until it is promoted to its ready heap.
        if task.run_at is not None:
            self._delayed_live -= 1
        else:
            self._lanes[task.queue].count -= 1
        return True

    def pop_ready(self) -> Task | None:
        """The next task to run now, or None."""
        if self._delayed_live and self._delayed[0][0] <= self._clock.now():
            self._promote_due()
        lane = self._single
        if lane is None:  # several queues: the round robin picks one (one queue: the common case)
            picked = self._rr.pick(self._has_work)
            if picked is None:
                return None
            lane = self._lanes[picked]
        if not lane.count:
            return None
        waiting = self.waiting
        heap = lane.heap
        run = lane.run
        while True:  # the smaller head of the lane's two parts; the count says an entry is live
            if heap and (not run or heap[0][0] < lane.base | run[0]):
                key, task = heapq.heappop(heap)
                seq = key & _SEQ_MASK
            else:
                seq = run.popleft()
                task = lane.tasks.popleft()
            live = waiting.pop(task, None)
            if live == seq:
                lane.count -= 1
                return task
            if live is not None:  # a stale entry of a task queued again: its live entry comes later
                waiting[task] = live

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
        lane = self._lanes.get(name)
        return lane is not None and lane.count > 0

    def _new_lane(self, name: str) -> _Lane:
        lane = self._lanes[name] = _Lane()
        self._rr.add(name)
        self._single = lane if len(self._lanes) == 1 else None
        return lane

    def _push_ready(self, task: Task, seq: int) -> None:
        lane = self._lanes.get(task.queue)
        if lane is None:
            lane = self._new_lane(task.queue)
        lane.add(task, seq)
        lane.count += 1

    def _promote_due(self) -> int:
        now = self._clock.now()
        moved = 0
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, seq, task = heapq.heappop(delayed)
            if self.waiting.get(task) != seq:
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
        while self._delayed and self.waiting.get(self._delayed[0][2]) != self._delayed[0][1]:
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
