"""Cancelling the durable tasks a node holds, and hearing the cancel requests other nodes send."""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pyworker.application.durable.leases import HeldLeases
from pyworker.application.durable.reconnect import backend_call
from pyworker.application.executor import AttemptExecutor
from pyworker.application.ledger import TaskLedger
from pyworker.application.ports import CancelSubscription, DurableQueue
from pyworker.domain import (
    DEFAULT_CANCEL_REASON,
    DurableCancelRequestedError,
    DurableLease,
    Task,
    TaskCancelledError,
    TaskStatus,
    cancel_text,
)

logger = logging.getLogger("pyworker.durable")

#: Cancel requests for tasks not held here that are remembered, in case their lease was
#: granted to this node just before the request and is not accepted yet.
UNHELD_REMEMBERED = 1024

#: Finishes a held task: status, result, error, settling (the dispatcher's ``_finish``).
Finish = Callable[[Task, TaskStatus, Any, BaseException | None, bool], None]


class DurableCancels:
    """Cancellation of held durable tasks (docs/cluster.md#cancellation).

    A task leased but not started is withdrawn: dead-lettered as cancelled, then
    finished Cancelled. A running one is interrupted through its attempt (a coroutine
    is cancelled, a sync function sees ``ctx.cancelled``); the dispatcher then fails it
    with status CANCELLED and ``cancel_text(reason)``, never a retry. ``reasons``
    keeps the first reason per held task. While the node runs it is subscribed to
    the queue's cancel requests (``subscribe``): a request for a task it holds
    cancels it at once, whichever node asked.
    """

    def __init__(
        self, queue: DurableQueue, held: HeldLeases, ledger: TaskLedger, executor: AttemptExecutor, finish: Finish
    ) -> None:
        self._queue = queue
        self._held = held
        self._ledger = ledger
        self._executor = executor
        self._finish = finish
        self.reasons: dict[Task, str] = {}
        self.withdrawals: set[asyncio.Task[None]] = set()
        # Requests for ids not held here, newest last; checked before a task starts.
        self.unheld: collections.OrderedDict[int, str] = collections.OrderedDict()
        self._subscription: CancelSubscription | None = None

    # -- requests from any node -------------------------------------------------------

    async def subscribe(self) -> None:
        try:
            self._subscription = await self._queue.subscribe_cancellations(self.requested)
        except Exception:  # the port never raises; a broken adapter must not stop the node
            logger.exception("could not subscribe to durable cancel requests; nack, renewal and reclaim still see them")

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.close()

    def requested(self, task_id: uuid.UUID, reason: str) -> None:
        """A cancel request from the queue (any node asked): cancel the task if held here."""
        task = self._ledger.tasks.get(task_id.int)
        if task is not None and self.cancel(task, reason):
            return
        unheld = self.unheld
        unheld[task_id.int] = reason
        if len(unheld) > UNHELD_REMEMBERED:
            unheld.popitem(last=False)

    def cancel(self, task: Task, reason: str) -> bool:
        """Withdraw ``task`` if it waits for a worker here, interrupt it if it runs here.
        False when this node does not hold it (or it is settling already).
        """
        if task not in self._held.leases:
            return False
        self.reasons.setdefault(task, reason)
        if self.withdraw_soon(task):
            return True
        return task.status is TaskStatus.RUNNING and self._executor.interrupt(task)

    def text(self, task: Task) -> str:
        """The ``last_error`` of a held task that ends Cancelled."""
        return cancel_text(self.reasons.get(task, DEFAULT_CANCEL_REASON))

    async def confirm(self, task: Task, lease: DurableLease, duration: float) -> bool:
        """Before ``task`` starts, when a request for its id came while it was not held
        yet: one renewal says whether the request stands for this lease (a replayed
        task's does not). True when it does (the caller dead-letters it).
        """
        reason = self.unheld.pop(task.id.int, None)
        if reason is None:
            return False
        try:
            (outcome,) = await self._queue.extend_many([lease], duration)
        except Exception as exc:  # the backend is away: run it; nack and reclaim still see a flag
            logger.warning("could not check the cancel request of %s: %s", task.id, exc)
            return False
        if not isinstance(outcome, DurableCancelRequestedError):
            return False
        self.reasons.setdefault(task, outcome.reason or reason)
        return True

    # -- withdrawing unstarted leases --------------------------------------------------

    def withdraw(self, task: Task) -> Awaitable[None] | None:
        """Cancel a task this node leased but has not started: it leaves the ready line
        now, is dead-lettered, then finishes Cancelled. None when ``task`` is not such a task.
        """
        if task.status is not TaskStatus.UNKNOWN:
            return None
        lease = self._held.take_unstarted(task)
        if lease is None:
            return None
        return self.dead_letter(task, lease, settling=False)

    def withdraw_soon(self, task: Task) -> bool:
        """``withdraw`` without waiting (cancel_all is synchronous); the dispatcher's join awaits it."""
        withdrawal = self.withdraw(task)
        if withdrawal is None:
            return False
        job = asyncio.ensure_future(withdrawal)
        self.withdrawals.add(job)
        job.add_done_callback(self.withdrawals.discard)
        return True

    async def dead_letter(self, task: Task, lease: DurableLease, settling: bool) -> None:
        """Fail the lease as cancelled, then finish the task Cancelled (``settling``: its
        worker slot was already given back).
        """
        await backend_call("fail", self._queue.fail(lease, self.text(task), status=TaskStatus.CANCELLED))
        self._finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id), settling)
