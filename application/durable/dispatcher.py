"""The durable dispatcher: lease tasks from a DurableQueue, run them, ack / nack / fail them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from pyworker.application.config import DurableConfig, ManagerConfig
from pyworker.application.durable.acks import AckFlusher
from pyworker.application.durable.cancels import DurableCancels
from pyworker.application.durable.fetcher import LeaseFetcher
from pyworker.application.durable.handlers import DurableHandlers
from pyworker.application.durable.leases import HeldLeases, LeaseRenewer
from pyworker.application.durable.reconnect import backend_call, connect
from pyworker.application.durable.registration import DurableRegistrar
from pyworker.application.durable.wakeups import IdleWorkers
from pyworker.application.events import Listeners
from pyworker.application.executor import AttemptExecutor
from pyworker.application.ledger import TaskLedger
from pyworker.application.ports import Clock, DurableQueue
from pyworker.application.settle import Retry, settle
from pyworker.domain import DurableLease, Task, TaskStatus, retry_delay

logger = logging.getLogger("pyworker.durable")

_COMPLETED = TaskStatus.COMPLETED


class DurableDispatcher:
    """Durable mode of a TaskManager (docs/durable.md).

    A fetch loop leases up to ``batch_size`` tasks whenever workers are free, waking
    on enqueue through the queue's ``wait_and_dequeue`` (polling only as a fallback),
    and backs off while the backend is away. Durable workers run each lease through
    the shared attempt executor; the shared settle step decides ack, nack (retry) or
    fail (dead letter). Acks are batched by the AckFlusher; running leases are renewed
    by the LeaseRenewer in one round trip per interval. DurableCancels withdraws or
    interrupts held tasks, on a request of this node or of any other.
    """

    def __init__(
        self,
        queue: DurableQueue,
        handlers: DurableHandlers,
        config: DurableConfig,
        manager: ManagerConfig,
        clock: Clock,
        ledger: TaskLedger,
        executor: AttemptExecutor,
        listeners: Listeners,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.registrar = DurableRegistrar(queue, handlers)
        self.config = config
        self._manager = manager
        self._clock = clock
        self._ledger = ledger
        self._executor = executor
        self._listeners = listeners
        self.workers = manager.max_workers
        self.stopped = False  # a hard stop: interrupted attempts are handed back, not retried
        self._held = HeldLeases()
        self._fetcher: LeaseFetcher | None = None
        self._acks: AckFlusher | None = None
        self._idle = IdleWorkers(self._held.ready)
        self._loops: list[asyncio.Task[None]] = []
        self._worker_tasks: dict[int, asyncio.Task[None]] = {}
        self.cancels = DurableCancels(queue, self._held, ledger, executor, self._finish)
        self._fetching = False
        self._closed = False

    # -- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        """Reach the backend (retrying for ``connect_timeout``), then start fetching.

        Raises:
            BackendUnavailableError: the backend did not answer in time.
        """
        if self._fetching or self._closed:
            return
        config = self.config
        await connect(self.queue, self._clock, config.connect_timeout, config.poll_interval)
        await self.queue.configure_queues(self._manager.default_queue, self._manager.queue_weights, config.queues)
        await self.queue.configure_results(config.result_ttl, config.results_max_len, config.node_id or "")
        await self.cancels.subscribe()  # before the first lease: no request for it can be missed
        self._fetching = True
        held, ledger = self._held, self._ledger
        self._fetcher = LeaseFetcher(self.queue, config, self.handlers, held, ledger, self._clock, self._idle.wake)
        self._size_fetcher()
        self._fetcher.start()
        self._acks = AckFlusher(self.queue, self._clock, config.poll_interval, self._completed, config.result_ttl > 0)
        loop = asyncio.get_running_loop()
        self._loops.append(loop.create_task(self._acks.run(), name="pyworker-durable-acks"))
        if config.renew_every > 0:
            renewer = LeaseRenewer(
                self.queue, self._held, self._clock, config.lease, config.renew_every, unstarted=config.prefetch > 0
            )
            renewer.on_cancel = self.cancels.cancel
            self._loops.append(loop.create_task(renewer.run(), name="pyworker-durable-renew"))
        self.resize(self.workers)

    def resize(self, count: int) -> None:
        """Run ``count`` durable workers (extra ones exit when idle)."""
        self.workers = count
        self._size_fetcher()
        if not self._fetching:
            return
        loop = asyncio.get_running_loop()
        for index in range(count):
            worker = self._worker_tasks.get(index)
            if worker is None or worker.done():
                self._worker_tasks[index] = loop.create_task(
                    self._worker(index), name=f"pyworker-durable-worker-{index}"
                )
        self._idle.wake_all()  # idle workers above the new count notice and exit
        self._slot_freed()

    def _size_fetcher(self) -> None:
        fetcher = self._fetcher
        if fetcher is not None:
            fetcher.workers = self.workers
            fetcher.batch_size = self.config.batch_for(self.workers)

    def start_workers(self) -> None:
        """Nothing to start before ``start()``: durable workers need the backend."""

    def cancel(self, task: Task) -> bool:
        return self.cancels.withdraw_soon(task)

    def stop(self) -> None:
        """A hard stop: interrupted attempts are handed back, not retried."""
        self.stopped = True

    async def stop_taking(self) -> None:
        """Stop leasing new tasks and hand back the ones not started yet."""
        if not self._fetching:
            return
        self._fetching = False
        if self._fetcher is not None:
            await self._fetcher.stop()
        unstarted = self._held.drain_unstarted()
        for task, _ in unstarted:
            self._forget(task, settling=False)
        if unstarted:
            try:
                await self.queue.release([lease for _, lease in unstarted])
            except Exception:
                logger.exception("could not hand back %d unstarted lease(s); they return at expiry", len(unstarted))
        self._idle.wake_all()  # let idle durable workers see that fetching stopped

    async def join(self) -> None:
        """Stop every loop after the last acks are flushed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self.stop_taking()
        # Workers exit once nothing is ready; running attempts were already
        # interrupted by the manager, and their ack / nack / fail must still go out.
        await asyncio.gather(*self._worker_tasks.values(), *self.cancels.withdrawals, return_exceptions=True)
        if self._acks is not None:
            self._acks.closing = True
            await self._acks.flush()
        await self.cancels.close()
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)

    # -- cancellation ------------------------------------------------------------

    def withdraw(self, task: Task, reason: str) -> Awaitable[None] | None:
        """Cancel a task this node leased but has not started (``DurableCancels.withdraw``)."""
        if task in self._held.leases:
            self.cancels.reasons.setdefault(task, reason)
        return self.cancels.withdraw(task)

    # -- running ---------------------------------------------------------------

    async def _worker(self, index: int) -> None:
        me = asyncio.current_task()
        ready = self._held.ready
        idle = self._idle
        while True:
            if index >= self.workers and self._worker_tasks.get(index) is me:
                del self._worker_tasks[index]
                idle.pass_on()  # pass on a wake-up this worker may have taken
                return
            if not ready:
                if not self._fetching:
                    return
                await idle.wait()
                continue
            task = ready.popleft()
            if ready:
                idle.wake()  # the baton: the next worker for the rest
            try:
                await self._run(task, me)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("durable worker: unexpected error running task %s", task.id)

    async def _run(self, task: Task, owner: asyncio.Task[Any] | None) -> None:
        held = self._held
        lease = held.leases[task]
        if task.status is not TaskStatus.UNKNOWN:
            held.settling += 1
            await backend_call("fail", self.queue.fail(lease, "task already started"))
            self._forget(task)
            return
        cancels = self.cancels
        if cancels.unheld and task.id.int in cancels.unheld and await cancels.confirm(task, lease, self.config.lease):
            held.settling += 1  # cancelled before it was held here: it never starts
            self._slot_freed()
            await cancels.dead_letter(task, held.leases.get(task, lease), settling=True)
            return
        outcome = await self._executor.run(task, None, owner)
        lease = held.leases.get(task, lease)  # renewed while it ran
        # The attempt is over: its worker is free, so the fetcher may lease for it now
        # (the ack, nack or fail below still holds the lease until it is done).
        held.settling += 1
        self._slot_freed()
        if outcome.error is None:
            assert self._acks is not None
            self._acks.add(task, lease, outcome.result)
            return
        decision = settle(task, outcome, timeout=self._manager.timeout, retry_allowed=not self.stopped)
        if isinstance(decision, Retry):
            delay = retry_delay(task.retry_delay, decision.attempt, task.id)
            task.transition(TaskStatus.WAITING_RETRY, self._clock.now())
            for listener in self._listeners.retry:
                listener(task, delay, decision.attempt)
            await backend_call("nack", self.queue.nack(lease, delay))
            self._forget(task)
            return
        cancelled = decision.status is TaskStatus.CANCELLED
        if cancelled and self.stopped and task not in cancels.reasons:
            # Interrupted by a hard stop, not by the task: another node runs it now.
            await backend_call("nack", self.queue.nack(lease, 0.0))
            self._finish(task, TaskStatus.CANCELLED, None, decision.error)
            return
        reason = cancels.text(task) if cancelled else _error_text(decision.error)
        await backend_call("fail", self.queue.fail(lease, reason, status=decision.status))
        self._finish(task, *decision)

    def _completed(self, task: Task, lease: DurableLease, result: Any) -> None:
        """Acked (the AckFlusher calls this once the ack is done): the result goes out."""
        held = self._held
        if held.leases.pop(task, None) is not None:
            held.settling -= 1  # busy is unchanged: the slot was freed when the attempt ended
        self._ledger.finish(task, _COMPLETED, result, None)

    def _finish(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, settling: bool = True
    ) -> None:
        self._let_go(task, settling)
        self._ledger.finish(task, status, result, error)

    def _let_go(self, task: Task, settling: bool) -> bool:
        """Drop ``task``'s lease from the held ones (``settling``: its attempt was over);
        False when it held none.
        """
        held = self._held
        if held.leases.pop(task, None) is None:
            return False
        self.cancels.reasons.pop(task, None)
        if settling:
            held.settling -= 1
        else:
            self._slot_freed()  # it was waiting for a worker: room for another lease
        return True

    def _slot_freed(self) -> None:
        if self._fetcher is not None:
            self._fetcher.slot.set()

    def _forget(self, task: Task, settling: bool = True) -> None:
        """Drop a lease this node no longer works on (not a terminal finish)."""
        if self._let_go(task, settling):
            self._ledger.drop(task)
            self._ledger.track(-1)


def _error_text(error: BaseException | None) -> str:
    return "" if error is None else str(error) or type(error).__name__
