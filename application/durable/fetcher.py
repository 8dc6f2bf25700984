"""The lease fetcher: asks the DurableQueue for work whenever workers are free, idles on wake-ups."""

from __future__ import annotations

import asyncio
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
    """Keeps ``workers + prefetch`` leases waiting or running (leases whose attempt is
    over and whose ack is on its way do not count): leases up to ``batch_size`` at a
    time, turns each into a Task (a poison message goes to the DLQ), and wakes an idle
    worker for them (which wakes the next one while work is left). When a call comes
    back short the queues are drained, so the next call waits for an enqueue's wake-up
    (``wait_and_dequeue``) instead of asking again at once.
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
        self.batch_size = config.batch_for(1)  # sized by the dispatcher (workers)
        self.prefetch = config.prefetch
        self.slot = asyncio.Event()  # set when a lease is let go: there may be room
        self._dequeue: asyncio.Future[list[DurableLease]] | None = None
        self._dequeue_waits = False  # the call in flight is an idle wait (nothing granted while it blocks)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._late: list[DurableLease] = []

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pyworker-durable-fetch")

    async def stop(self) -> None:
        """Stop asking; leases a call in flight was already granted are accepted."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        call = self._dequeue
        if call is None:
            task.cancel()  # waiting for room or backing off: nothing is in flight
        elif self._dequeue_waits and not call.done():
            # Still blocked waiting for work (up to the poll interval): stop waiting. On
            # Redis, dropping the wake connection makes the server discard the dequeue.
            call.cancel()
        # Otherwise the call in flight finishes and the loop leaves its leases in _late.
        await asyncio.gather(task, return_exceptions=True)
        late, self._late = self._late, []
        await self.accept(late)  # no await before the caller takes the unstarted ones back

    def _stop_requested(self) -> bool:
        return self._stopping  # a call, so the type checker does not assume it unchanged across awaits

    async def _run(self) -> None:
        config = self._config
        held = self._held
        idle = False
        reconnect = Reconnect("dequeue", config.poll_interval)
        while not self._stopping:
            free = self.workers + self.prefetch - held.busy
            if free <= 0:
                self.slot.clear()
                await self.slot.wait()
                continue
            asked = min(self.batch_size, free)
            call = (
                self._queue.wait_and_dequeue(asked, config.lease, config.poll_interval)
                if idle
                else self._queue.dequeue(asked, config.lease)
            )
            # A task of its own, so that stop() sees what is in flight; stop() never cancels
            # a call that may grant leases (only an idle wait), so no shield is needed.
            self._dequeue = asyncio.ensure_future(call)
            self._dequeue_waits = idle
            try:
                leases = await self._dequeue
            except Exception as exc:  # the fetch loop must outlive any backend failure
                self._dequeue = None
                if self._stop_requested():
                    return
                await self._clock.sleep(reconnect.failed(exc))
                continue
            self._dequeue = None
            reconnect.succeeded()
            if self._stop_requested():  # granted during stop(): it takes them, so that none starts
                self._late = leases
                return
            await self.accept(leases)
            idle = len(leases) < asked

    async def accept(self, leases: list[DurableLease]) -> None:
        """Turn granted leases into ready Tasks, in order, and wake a worker for them.

        One pass with no await for the good ones (no coroutine per lease); a poison
        message goes to the DLQ afterwards.
        """
        build_task = self._handlers.build_task
        put = self._ledger.put
        add = self._held.add
        poison: list[tuple[DurableLease, Exception]] = []
        accepted = 0
        for lease in leases:
            try:
                task = build_task(lease)
            except Exception as exc:  # poison message: to the DLQ with the reason, never a crash loop
                poison.append((lease, exc))
                continue
            put(task)  # replaces an earlier delivery of the same id
            add(task, lease)
            accepted += 1
        if accepted:
            self._ledger.track(accepted)
            self._wake_one()
        for lease, error in poison:
            logger.warning("durable task %s cannot run: %s", lease.task.id, error)
            await backend_call("fail", self._queue.fail(lease, error))
