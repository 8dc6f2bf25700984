"""The demo's workload: a seeded mix of quick, slow, blocking, flaky, doomed, cancelled and delayed tasks."""

from __future__ import annotations

import asyncio
import enum
import random
from collections import Counter
from collections.abc import Callable

import attrs

from pyworker.domain import Task, TaskContext, TaskFunction

#: Queue name -> weight for weighted round robin (3 picks from critical for every 1 from bulk).
QUEUE_WEIGHTS: dict[str, int] = {"critical": 3, "default": 2, "bulk": 1}
#: Share of the tasks that goes to each queue.
_QUEUE_SHARES: dict[str, int] = {"critical": 2, "default": 4, "bulk": 4}

RETRIES = 3
RETRY_DELAY = 0.1  # seconds, before --speed; the manager doubles it per retry (+-10% jitter)


class DemoTaskError(Exception):
    """What the demo's failing task functions raise (an ordinary application error)."""


class Kind(enum.Enum):
    """What a demo task does; the value is (label, description)."""

    QUICK = ("quick async", "async def, awaits 10-50 ms")
    SLOW = ("slow async", "async def, awaits 200-500 ms")
    BLOCKING = ("plain def", "def on the thread pool, blocks 20-120 ms")
    FLAKY = ("flaky", "fails 1-2 times, then succeeds on a retry")
    DOOMED = ("doomed", "fails every attempt: Failed after its retries")
    CANCEL_QUEUED = ("cancel while queued", "cancelled before a worker picks it up")
    CANCEL_RUNNING = ("cancel while running", "cancelled mid-flight (async or def)")

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def description(self) -> str:
        return self.value[1]


@attrs.frozen
class PlannedTask:
    """One task of the plan: the Task itself, what it does, and its registration delay (0: now)."""

    task: Task
    kind: Kind
    delay: float = 0.0


@attrs.frozen
class Plan:
    """The whole workload, in registration order."""

    tasks: tuple[PlannedTask, ...]
    speed: float

    def count(self, kind: Kind) -> int:
        return sum(1 for p in self.tasks if p.kind is kind)

    @property
    def delayed(self) -> int:
        return sum(1 for p in self.tasks if p.delay > 0)

    def by_queue(self) -> Counter[str]:
        return Counter(p.task.queue for p in self.tasks)


def _kind_counts(total: int) -> list[Kind]:
    """A fixed mix for ``total`` tasks: every kind appears at least once (twice for the retried ones)."""
    fixed = {
        Kind.FLAKY: max(2, round(total * 0.08)),
        Kind.DOOMED: max(1, round(total * 0.03)),
        Kind.CANCEL_QUEUED: max(1, round(total * 0.03)),
        Kind.CANCEL_RUNNING: max(2, round(total * 0.03)),
    }
    rest = total - sum(fixed.values())
    slow = blocking = rest // 4
    kinds = {Kind.QUICK: rest - slow - blocking, Kind.SLOW: slow, Kind.BLOCKING: blocking, **fixed}
    return [kind for kind, count in kinds.items() for _ in range(count)]


def build_plan(total: int, seed: int, speed: float = 1.0) -> Plan:
    """``total`` tasks across the demo queues; the same seed gives the same plan.

    ``speed`` divides every wait (2.0 runs twice as fast).
    """
    rng = random.Random(seed)
    kinds = _kind_counts(total)
    rng.shuffle(kinds)
    queues = rng.choices(list(_QUEUE_SHARES), weights=list(_QUEUE_SHARES.values()), k=total)
    planned: list[PlannedTask] = []
    for index, (kind, queue) in enumerate(zip(kinds, queues, strict=True)):
        execute, retries = _function(kind, rng, speed)
        priority = rng.randint(0, 9)  # lower runs first
        if kind is Kind.CANCEL_QUEUED:
            queue, priority = "bulk", 9  # the back of the line, so it is surely still waiting
        task = Task(
            execute=execute,
            priority=priority,
            queue=queue,
            retries=retries,
            retry_delay=RETRY_DELAY / speed,
            name=f"{kind.name.lower()}-{index:04d}",
            description=kind.description,
        )
        delayed = kind in (Kind.QUICK, Kind.SLOW, Kind.BLOCKING) and rng.random() < 0.12
        planned.append(PlannedTask(task, kind, rng.uniform(0.5, 2.5) / speed if delayed else 0.0))
    return Plan(tuple(planned), speed)


def _function(kind: Kind, rng: random.Random, speed: float) -> tuple[TaskFunction, int]:
    """The task function for ``kind`` and how many retries it gets."""
    if kind is Kind.QUICK:
        return _sleeper(rng.uniform(0.010, 0.050) / speed), 0
    if kind is Kind.SLOW:
        return _sleeper(rng.uniform(0.200, 0.500) / speed), 0
    if kind is Kind.BLOCKING:
        return _blocker(rng.uniform(0.020, 0.120) / speed), 0
    if kind is Kind.FLAKY:
        return _flaky(rng.uniform(0.010, 0.040) / speed, succeed_on=rng.choice((2, 3))), RETRIES
    if kind is Kind.DOOMED:
        return _flaky(rng.uniform(0.010, 0.040) / speed, succeed_on=None), 2
    if kind is Kind.CANCEL_QUEUED:
        return _sleeper(0.010 / speed), 0
    # CANCEL_RUNNING: the demo cancels it a moment after it starts; 5 s (whatever the speed)
    # is long enough for the cancel to land while it runs.
    wait = 5.0
    return (_sleeper(wait) if rng.random() < 0.5 else _blocker(wait)), 0


def _sleeper(seconds: float) -> Callable[[TaskContext], object]:
    async def sleep(ctx: TaskContext) -> str:
        await asyncio.sleep(seconds)  # a cancel interrupts the await directly
        return f"slept {seconds * 1000:.0f} ms"

    return sleep


def _blocker(seconds: float) -> Callable[[TaskContext], object]:
    def block(ctx: TaskContext) -> str:
        # Runs on the manager's thread pool; ctx.wait returns early (True) when cancelled.
        if ctx.wait(seconds):
            ctx.raise_if_cancelled()
        return f"blocked {seconds * 1000:.0f} ms"

    return block


def _flaky(seconds: float, succeed_on: int | None) -> Callable[[TaskContext], object]:
    async def flaky(ctx: TaskContext) -> str:
        await asyncio.sleep(seconds)
        if succeed_on is None or ctx.attempt < succeed_on:
            raise DemoTaskError(f"attempt {ctx.attempt} failed")
        return f"succeeded on attempt {ctx.attempt}"

    return flaky
