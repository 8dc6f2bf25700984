"""The result feed: outcomes settled on other nodes, read from the store, to this manager's subscribers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from pyworker.application.durable.reconnect import Reconnect
from pyworker.application.ledger import TaskLedger
from pyworker.application.outcomes import DurableResults, outcome_result
from pyworker.application.ports import Clock
from pyworker.application.results import ResultBroadcaster
from pyworker.domain import DurableOutcome, Task, TaskStatus

#: The longest one read waits for the next outcome (then it checks whether anyone listens).
READ_WAIT = 1.0
#: Outcomes per read.
READ_COUNT = 256
#: Task ids remembered as already delivered here (bounded: the overlap of a restart, a
#: task that finished here and again elsewhere, the start margin).
REMEMBERED = 10_000


class ResultFeed:
    """Runs while the manager has result subscribers (``subscribers_changed``, hooked to
    the ResultBroadcaster): reads the store's results stream from where it stood when
    the first subscriber subscribed (``DurableResults.results_cursor``), and publishes each outcome
    as a Result, except those settled by this node (``node_id``: it published them when
    they finished), tasks that finished here (heard as a lifecycle listener while
    active, or terminal in the ledger: an ack given up here, run again elsewhere) and
    ids it delivered recently. So a subscriber sees each task's outcome once, whichever node
    ran it (docs/cluster.md#results).
    """

    trusted = True  # built in, never raises

    def __init__(
        self,
        source: DurableResults,
        broadcaster: ResultBroadcaster,
        ledger: TaskLedger,
        clock: Clock,
        retry_every: float,
        node_id: str,
    ) -> None:
        self._source = source
        self._broadcaster = broadcaster
        self._ledger = ledger
        self._clock = clock
        self._retry_every = retry_every
        self._node_id = node_id
        self._cursor: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._wanted = False
        self._closed = False
        self._seen: set[int] = set()
        self._order: collections.deque[int] = collections.deque()

    @property
    def active(self) -> bool:
        """Hear local finishes only while the feed runs (the engine skips it otherwise)."""
        return self._wanted

    def task_finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        self._remember(task.id.int)  # published here already: its stream entry is not news

    def subscribers_changed(self) -> None:
        """Start reading when the first subscriber arrives; stop after the last one left."""
        self._wanted = bool(self._broadcaster.subscribers) and not self._closed
        if not self._wanted or (self._task is not None and not self._task.done()):
            return
        # Captured now, synchronously: a subscriber misses nothing settled after it subscribed.
        self._cursor = self._source.results_cursor(self._clock.now())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # subscribed before any loop runs: start() picks it up
            return
        self._task = loop.create_task(self._run(), name="pyworker-result-feed")

    def start(self) -> None:
        """Start reading if someone subscribed before the loop ran."""
        if self._wanted and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pyworker-result-feed")

    async def close(self) -> None:
        """Stop reading for good and release the reader's connection. Idempotent."""
        self._closed = True
        self._wanted = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._source.close()  # the reading connection, if one was opened

    async def _run(self) -> None:
        reconnect = Reconnect("results read", self._retry_every)
        while self._wanted:
            try:
                cursor, outcomes = await self._source.read_results(self._cursor, READ_WAIT, READ_COUNT)
            except Exception as exc:  # the feed outlives any store failure
                await self._clock.sleep(reconnect.failed(exc))
                continue
            reconnect.succeeded()
            self._cursor = cursor
            for outcome in outcomes:
                self._deliver(outcome)

    def _deliver(self, outcome: DurableOutcome) -> None:
        key = outcome.id.int
        if key in self._seen or outcome.node == self._node_id:
            return  # delivered already, or settled here (published here, or never: a poison message)
        local = self._ledger.tasks.get(key)
        self._remember(key)
        if local is not None and local.status.is_terminal:
            return  # finished here (before the feed heard of it): published already
        self._broadcaster.publish(outcome_result(outcome))

    def _remember(self, key: int) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > REMEMBERED:
            self._seen.discard(self._order.popleft())
