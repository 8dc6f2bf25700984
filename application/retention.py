"""Forgetting finished tasks: the registry side of the RetentionPolicy (docs/task-manager.md#retention)."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from pyworker.application.ports import Clock
from pyworker.domain import RetentionPolicy, Task


class RegistryPruner:
    """Removes terminal tasks from the manager's registry by a RetentionPolicy.

    Finish order is kept in a deque (the clock only moves forward, so it is
    also terminal-time order): TTL expiry and the max_entries trim both take
    from its front, O(1) per removed task. Non-terminal tasks are never removed.
    """

    def __init__(self, tasks: dict[int, Task], policy: RetentionPolicy | None = None) -> None:
        self._tasks = tasks  # the manager's registry, keyed by id.int
        self.policy = policy
        self._last_ttl_check: float | None = None
        self._finished: deque[uuid.UUID] = deque()

    def set_policy(self, policy: RetentionPolicy, now: float) -> None:
        """Install ``policy`` (resetting the TTL check) and prune once."""
        if self.policy is None:
            # Finish order was not tracked until now: seed it from the registry.
            finished = [t for t in self._tasks.values() if t.status.is_terminal]
            finished.sort(key=lambda t: t.terminal_at or 0.0)
            self._finished = deque(t.id for t in finished)
        self.policy = policy
        self._last_ttl_check = None
        self.prune(now)

    def finished(self, task: Task, now: float) -> None:
        """A task just reached its terminal status."""
        policy = self.policy
        if policy is None:
            return
        finished = self._finished
        finished.append(task.id)
        if policy.ttl > 0:
            self.prune(now)
            return
        # max_entries alone (a worker node's policy): the oldest finished tasks go
        # while the registry is over the bound; ids of tasks no longer terminal drop out.
        tasks = self._tasks
        limit = policy.max_entries
        while 0 < limit < len(tasks) and finished:
            oldest = tasks.get(finished.popleft().int)
            if oldest is not None and oldest.status.is_terminal:
                del tasks[oldest.id.int]

    def prune(self, now: float) -> None:
        policy = self.policy
        if policy is None or not policy.enabled:
            return
        tasks = self._tasks
        ttl_due = policy.ttl_sweep_due(now, self._last_ttl_check)
        if not ttl_due and not (0 < policy.max_entries < len(tasks)):
            return
        cutoff = None
        if ttl_due:
            self._last_ttl_check = now
            cutoff = now - policy.ttl
        finished = self._finished
        while finished:
            task = tasks.get(finished[0].int)
            if task is None or not task.status.is_terminal:
                finished.popleft()
                continue
            at = task.terminal_at
            expired = cutoff is not None and at is not None and at <= cutoff
            if not expired and not (0 < policy.max_entries < len(tasks)):
                break
            finished.popleft()
            del tasks[task.id.int]


class RetentionSweeper:
    """The periodic TTL sweep (every ``policy.interval``), while a TTL policy is set."""

    def __init__(self, pruner: RegistryPruner, clock: Clock) -> None:
        self._pruner = pruner
        self._clock = clock
        self.task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        """Start the sweep on the running loop if the policy has a TTL and none runs."""
        policy = self._pruner.policy
        if policy is None or policy.ttl <= 0 or self.task is not None:
            return
        self.task = asyncio.get_running_loop().create_task(self._run(), name="pyworker-retention")

    async def _run(self) -> None:
        while True:
            policy = self._pruner.policy
            await self._clock.sleep(policy.interval if policy is not None else 60.0)
            self._pruner.prune(self._clock.now())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
