"""The ack flusher: acks every success since its last round trip, then lets the results out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pyworker.application.outcomes import output_text
from pyworker.application.ports import Clock, DurableQueue
from pyworker.domain import BackendUnavailableError, DurableLease, Task

logger = logging.getLogger("pyworker.durable")

_Ack = tuple[Task, DurableLease, Any]


class AckFlusher:
    """Batches acks: one ``ack_many`` for everything finished since the last one, then
    ``completed(task, result)`` for each, so a published result is always acked.

    While the backend is away the batch is retried every ``retry_every`` seconds for as
    long as its leases last; an ack whose lease would expire before the next try is
    given up with a warning (the task may run again elsewhere: at-least-once).
    With ``outputs`` (results on: docs/cluster.md#results) each ack carries the result's
    text, recorded with the ack in the same step.
    """

    def __init__(
        self,
        queue: DurableQueue,
        clock: Clock,
        retry_every: float,
        completed: Callable[[Task, DurableLease, Any], None],
        outputs: bool = False,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._retry_every = retry_every
        self._completed = completed
        self._outputs = outputs
        self._acks: list[_Ack] = []
        self._event = asyncio.Event()
        self.closing = False

    def add(self, task: Task, lease: DurableLease, result: Any) -> None:
        self._acks.append((task, lease, result))
        self._event.set()

    async def run(self) -> None:
        while True:
            await self._event.wait()
            self._event.clear()
            await self.flush()

    async def flush(self) -> None:
        clock = self._clock
        while self._acks:
            batch, self._acks = self._acks, []
            try:
                outcomes: Sequence[BaseException | None] = await self._ack(batch)
            except BackendUnavailableError as exc:
                # Keep acking while the leases last, rather than letting finished work
                # expire and run again elsewhere; give up on the rest.
                deadline = clock.now() + self._retry_every
                retry: list[_Ack] = []
                given_up: list[_Ack] = []
                for item in batch:  # one pass: never compare results (user objects) for equality
                    (retry if not self.closing and item[1].expires_at > deadline else given_up).append(item)
                self._done(given_up, [exc] * len(given_up))
                if retry:
                    logger.warning("durable ack of %d task(s) failed (%s); retrying", len(retry), exc)
                    self._acks = retry + self._acks
                    await clock.sleep(self._retry_every)
                continue
            except Exception as exc:  # unexpected: the leases expire and the tasks run again
                logger.warning("durable ack of %d task(s) failed: %s", len(batch), exc)
                outcomes = [exc] * len(batch)
            self._done(batch, outcomes)

    def _ack(self, batch: list[_Ack]) -> Awaitable[Sequence[BaseException | None]]:
        leases = [lease for _, lease, _ in batch]
        if not self._outputs:
            return self._queue.ack_many(leases)  # results off: the call (and its cost) as before
        return self._queue.ack_many(leases, [output_text(result) for _, _, result in batch])

    def _done(self, batch: list[_Ack], outcomes: Sequence[BaseException | None]) -> None:
        for (task, lease, result), outcome in zip(batch, outcomes, strict=True):
            if outcome is not None:
                logger.warning("task %s finished but its ack failed (%s); it may run again", task.id, outcome)
            self._completed(task, lease, result)
