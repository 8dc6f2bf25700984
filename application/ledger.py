"""The task ledger: the registry of tasks, the pending count, idle waiting, the one finish path."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pyworker.application.clock import now_reader
from pyworker.application.events import Listeners
from pyworker.application.ports import Clock
from pyworker.domain import InvalidTaskError, Task, TaskNotFoundError, TaskStatus, WaitTimeoutError


def parse_task_id(task_id: uuid.UUID | str) -> uuid.UUID:
    """A task id given as a UUID or its text. Raises InvalidTaskError for malformed text."""
    if isinstance(task_id, str):
        try:
            return uuid.UUID(task_id)
        except ValueError:
            raise InvalidTaskError(reason=f"invalid task id {task_id!r}") from None
    return task_id


class TaskLedger:
    """Every task the manager knows, and how many it still owes an outcome.

    ``pending`` counts the tasks ``wait()`` waits for: registered in-memory tasks
    until they finish, and durable leases this node holds. ``finish`` is the only
    terminal transition: the first one wins, the listeners hear it once, and the
    pending count drops after them (so ``wait()`` returns after every counter,
    hook and publication for the task). Loop-confined: no locks.
    """

    __slots__ = ("_clock", "_idle", "_now", "listeners", "pending", "tasks")

    def __init__(self, clock: Clock, listeners: Listeners) -> None:
        self._clock = clock
        self._now = now_reader(clock)
        self.listeners = listeners
        self.tasks: dict[int, Task] = {}  # keyed by id.int: UUID.__hash__ is Python code
        self.pending = 0
        self._idle: asyncio.Event | None = None

    # -- registry --------------------------------------------------------------

    def lookup(self, task_id: uuid.UUID | str) -> Task:
        """The task with this id.

        Raises:
            InvalidTaskError: a malformed id string.
            TaskNotFoundError: no such task (or it was pruned).
        """
        task_id = parse_task_id(task_id)
        task = self.tasks.get(task_id.int)
        if task is None:
            raise TaskNotFoundError(task_id=task_id)
        return task

    def add(self, task: Task) -> None:
        """Enter a new task (its id is free) and count it as pending."""
        self.tasks[task.id.int] = task
        self.pending += 1
        if self.pending == 1 and self._idle is not None:
            self._idle.clear()

    def put(self, task: Task) -> None:
        """Enter ``task``, replacing an earlier one with its id (a durable redelivery)."""
        self.tasks[task.id.int] = task

    def drop(self, task: Task) -> None:
        """Remove ``task`` from the registry (not a finish)."""
        if self.tasks.get(task.id.int) is task:
            del self.tasks[task.id.int]

    # -- pending and idle ----------------------------------------------------------

    def start(self) -> None:
        """Create the idle event on the running loop."""
        if self._idle is None:
            self._idle = asyncio.Event()
            if self.pending == 0:
                self._idle.set()

    def track(self, delta: int) -> None:
        """Count tasks (or leases) that ``wait`` waits for."""
        before = self.pending
        self.pending = before + delta
        idle = self._idle
        if idle is None:
            return
        if self.pending == 0:
            idle.set()
        elif before == 0:
            idle.clear()

    async def wait_idle(self, timeout: float | None) -> None:
        """Return once nothing is pending.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        if self.pending == 0:
            return
        self.start()
        event = self._idle
        assert event is not None
        if timeout is None:
            await event.wait()
            return
        owner = asyncio.current_task()
        assert owner is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            if not event.is_set():
                expired = True
                owner.cancel()

        timer = self._clock.call_later(timeout, expire)  # the Clock's time, so ManualClock drives it
        try:
            await event.wait()
        except asyncio.CancelledError:
            if expired:
                owner.uncancel()
                raise WaitTimeoutError(timeout=timeout) from None
            raise
        finally:
            timer.cancel()

    # -- the finish path -------------------------------------------------------------

    def finish(self, task: Task, status: TaskStatus, result: Any, error: BaseException | None) -> bool:
        """The terminal transition: exactly once per task; False if already terminal."""
        now = self._now()
        if not task.finish(status, now, result, error):
            return False
        for listener in self.listeners.finished:
            listener(task, status, result, error, now)
        pending = self.pending = self.pending - 1
        if not pending and self._idle is not None:
            self._idle.set()
        return True
