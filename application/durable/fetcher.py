"""The lease fetcher: asks the DurableQueue for work whenever workers are free, idles on wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pyworker.application.config import DurableConfig
from pyworker.application.durable.handlers import DurableHandlers
from pyworker.application.durable.leases import HeldLeases
from pyworker.application.durable.reconnect import Reconnect, backend_call
from pyworker.application.ledger import TaskLedger
from pyworker.application.ports import Clock, DurableQueue
from pyworker.domain import DurableLease

logger = logging.getLogger("pyworker.durable")


class LeaseFetcher:
    """Keeps ``workers + prefetch`` leases in hand: leases up to ``batch_size`` at a time,
    turns each into a Task (a poison message goes to the DLQ), and wakes one idle worker
    per lease. When a call comes back short the queues are drained, so the next call
    waits for an enqueue's wake-up (``wait_and_dequeue``) instead of asking again at once.
    While the backend is away it backs off (``Reconnect``).
    """

    def __init__(
        self,
        queue: DurableQueue,
        config: DurableConfig,
        handlers: DurableHandlers,
        held: HeldLeases,
        ledger: TaskLedger,
        clock: Clock,
        wake_one: Callable[[], None],
    ) -> None:
        self._queue = queue
        self._config = config
        self._handlers = handlers
        self._held = held
        self._ledger = ledger
        self._clock = clock
        self._wake_one = wake_one
        self.workers = 0
        self.slot = asyncio.Event()  # set when a lease is let go: there may be room
        self._dequeue: asyncio.Future[list[DurableLease]] | None = None
        self._dequeue_waits = False  # the call in flight is an idle wait (nothing granted while it blocks)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pyworker-durable-fetch")

    async def stop(self) -> None:
        """Stop asking; leases a call in flight was already granted are accepted."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._dequeue is not None:
            if self._dequeue_waits and not self._dequeue.done():
                # Still blocked waiting for work (up to the poll interval): stop waiting. On
                # Redis, dropping the wake connection makes the server discard the dequeue.
                self._dequeue.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                for lease in await self._dequeue:
                    await self.accept(lease)
            self._dequeue = None

    async def _run(self) -> None:
        config = self._config
        idle = False
        reconnect = Reconnect("dequeue", config.poll_interval)
        while True:
            free = self.workers + config.prefetch - len(self._held)
            if free <= 0:
                self.slot.clear()
                await self.slot.wait()
                continue
            asked = min(config.batch_size, free)
            call = (
                self._queue.wait_and_dequeue(asked, config.lease, config.poll_interval)
                if idle
                else self._queue.dequeue(asked, config.lease)
            )
            # Shielded: a stop that lands mid-call must still receive what was granted.
            self._dequeue = asyncio.ensure_future(call)
            self._dequeue_waits = idle
            try:
                leases = await asyncio.shield(self._dequeue)
            except Exception as exc:  # the fetch loop must outlive any backend failure
                self._dequeue = None
                await self._clock.sleep(reconnect.failed(exc))
                continue
            self._dequeue = None
            reconnect.succeeded()
            for lease in leases:
                await self.accept(lease)
            idle = len(leases) < asked

    async def accept(self, lease: DurableLease) -> None:
        try:
            task = self._handlers.build_task(lease)
        except Exception as exc:  # poison message: to the DLQ with the reason, never a crash loop
            logger.warning("durable task %s cannot run: %s", lease.task.id, exc)
            await backend_call("fail", self._queue.fail(lease, exc))
            return
        self._ledger.put(task)  # replaces an earlier delivery of the same id
        self._ledger.track(1)
        self._held.add(task, lease)
        self._wake_one()
