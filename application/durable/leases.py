"""The leases a worker node holds: ready to run or running, and their renewal."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from pyworker.application.ports import Clock, DurableQueue
from pyworker.domain import DurableCancelRequestedError, DurableLease, DurableLeaseNotFoundError, Task, TaskStatus

logger = logging.getLogger("pyworker.durable")

_RUNNING = frozenset({TaskStatus.RUNNING})
_RUNNING_OR_UNSTARTED = frozenset({TaskStatus.RUNNING, TaskStatus.UNKNOWN})


class HeldLeases:
    """Every lease this node holds, by task (identity), and the order unstarted ones run in.

    ``ready`` holds tasks whose lease was granted but whose attempt has not started;
    the current lease of any held task is ``leases[task]`` (renewal replaces it there).
    ``settling`` counts held tasks whose attempt is over and whose ack / nack / fail is
    not done yet: they hold a lease but no worker, so they do not count as ``busy``.
    """

    __slots__ = ("leases", "ready", "settling")

    def __init__(self) -> None:
        self.leases: dict[Task, DurableLease] = {}
        self.ready: deque[Task] = deque()
        self.settling = 0

    def __len__(self) -> int:
        return len(self.leases)

    @property
    def busy(self) -> int:
        """Held tasks that are waiting for a worker or running (not settling)."""
        return len(self.leases) - self.settling

    def add(self, task: Task, lease: DurableLease) -> None:
        self.leases[task] = lease
        self.ready.append(task)

    def take_unstarted(self, task: Task) -> DurableLease | None:
        """Remove ``task`` from the ready line; its lease, or None when it is not waiting there."""
        try:
            self.ready.remove(task)
        except ValueError:
            return None
        return self.leases.get(task)

    def drain_unstarted(self) -> list[tuple[Task, DurableLease]]:
        """Take every task that has not started (graceful stop hands them back)."""
        tasks = list(self.ready)
        self.ready.clear()
        return [(task, self.leases[task]) for task in tasks]


class LeaseRenewer:
    """Extends the leases of running attempts every ``interval`` seconds, all of them in
    one ``extend_many`` round trip. A lease that is gone or stale is not renewed again.
    With ``unstarted`` (a node that prefetches), leases still waiting for a worker are
    renewed too, so a prefetched lease does not expire while it waits. A renewal that
    finds a task's cancellation requested (a pub/sub message this node missed) hands
    it to ``on_cancel(task, reason)``.
    """

    def __init__(
        self, queue: DurableQueue, held: HeldLeases, clock: Clock, lease: float, interval: float, unstarted: bool
    ) -> None:
        self._renewed = _RUNNING_OR_UNSTARTED if unstarted else _RUNNING
        self._queue = queue
        self._held = held
        self._clock = clock
        self._lease = lease
        self.interval = interval
        self.on_cancel: Callable[[Task, str], object] | None = None

    async def run(self) -> None:
        while True:
            await self._clock.sleep(self.interval)
            await self.renew_once()

    async def renew_once(self) -> None:
        leases = self._held.leases
        statuses = self._renewed
        running = [(task, lease) for task, lease in leases.items() if task.status in statuses]
        if not running:
            return
        try:
            renewed = await self._queue.extend_many([lease for _, lease in running], self._lease)
        except Exception as exc:  # the backend is away: the next interval tries again
            logger.warning("lease renewal of %d task(s) failed: %s", len(running), exc)
            return
        for (task, lease), outcome in zip(running, renewed, strict=True):
            if isinstance(outcome, DurableLeaseNotFoundError):
                continue  # lost: renewal stops for this lease
            if isinstance(outcome, DurableCancelRequestedError):
                if self.on_cancel is not None:  # renewed all the same: the lease is still ours to fail
                    self.on_cancel(task, outcome.reason)
                continue
            if isinstance(outcome, BaseException):
                logger.warning("lease renewal for %s failed: %s", task.id, outcome)
                continue
            if leases.get(task) is lease:
                leases[task] = outcome
