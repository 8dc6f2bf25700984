"""The local dispatcher: in-memory tasks on worker coroutines, a token bucket and backoff timers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyworker.application.admission import LocalAdmission
from pyworker.application.config import ManagerConfig
from pyworker.application.events import Listeners
from pyworker.application.executor import AttemptExecutor
from pyworker.application.ledger import TaskLedger
from pyworker.application.ports import Clock
from pyworker.application.rate_limit import TokenBucket
from pyworker.application.ready_queue import ReadyQueue
from pyworker.application.settle import AttemptOutcome, Finish, public_error, settle
from pyworker.application.telemetry import MetricCounters
from pyworker.domain import (
    QueueFullError,
    Task,
    TaskAlreadyStartedError,
    TaskCancelledError,
    TaskStatus,
    retry_delay,
)

logger = logging.getLogger("pyworker")

_UNKNOWN = TaskStatus.UNKNOWN
_QUEUED = TaskStatus.QUEUED
_COMPLETED = TaskStatus.COMPLETED


class LocalDispatcher:
    """Runs registered in-memory tasks: the ready queue feeds ``max_workers`` worker
    coroutines, each start takes a token from the bucket, and a failed attempt with
    retries left waits on a backoff timer before it rejoins the queue.
    """

    def __init__(
        self,
        config: ManagerConfig,
        clock: Clock,
        ledger: TaskLedger,
        executor: AttemptExecutor,
        listeners: Listeners,
        counters: MetricCounters,
    ) -> None:
        self._config = config
        self._clock = clock
        self._ledger = ledger
        self._executor = executor
        self._listeners = listeners
        self._counters = counters
        self.queue = ReadyQueue(clock, config.max_tasks, config.queue_weights)
        self.admission = LocalAdmission(config, ledger, self.queue, counters)
        self.limiter = (
            TokenBucket(config.tasks_per_second, min(config.max_workers, config.max_tasks), clock)
            if config.tasks_per_second > 0
            else None
        )
        self._backoff: dict[Task, Any] = {}  # retry timers
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._parked: set[int] = set()  # workers waiting for a task or a token
        self._retired: list[asyncio.Task[None]] = []  # cancelled idle workers, joined at stop
        self.target = config.max_workers
        self.started = False
        self.stopped = False

    # -- registration ------------------------------------------------------------

    def register(self, task: Task) -> None:
        """Validate, normalise and queue a task (``LocalAdmission.register``)."""
        self.admission.register(task)

    # -- workers -----------------------------------------------------------------

    def start_workers(self) -> None:
        """Start the worker coroutines on the running loop (idempotent)."""
        self.started = True
        for index in range(self.target):
            worker = self._workers.get(index)
            if worker is None or worker.done():
                self._workers[index] = asyncio.get_running_loop().create_task(
                    self._worker(index), name=f"pyworker-worker-{index}"
                )

    async def start(self) -> None:
        self.start_workers()

    def resize(self, count: int) -> None:
        """Grow or shrink the pool; shrinking lets running attempts finish."""
        self.target = count
        if not self.started or self.stopped:
            return
        for index in list(self._parked):
            if index >= count:
                self._retire(index)
        self.start_workers()

    def _retire(self, index: int) -> None:
        """Cancel an idle worker; a later grow spawns a fresh one at its index."""
        worker = self._workers.pop(index, None)
        self._parked.discard(index)
        if worker is not None:
            worker.cancel()
            self._retired.append(worker)

    async def _worker(self, index: int) -> None:
        queue = self.queue
        parked = self._parked
        me = asyncio.current_task()
        run = self._executor.run
        finish = self._ledger.finish
        try:
            while not self.stopped and index < self.target:
                task = queue.pop_ready()
                if task is None:
                    parked.add(index)  # parked workers may be cancelled (shrink, stop)
                    task = await queue.get()
                    parked.discard(index)
                # A popped task is QUEUED (cancel and execute_task take theirs out of the
                # queue); only the wait for a token lets it be cancelled or claimed meanwhile.
                limiter = self.limiter
                if limiter is not None:
                    parked.add(index)
                    try:
                        await limiter.acquire()
                    except asyncio.CancelledError:
                        if task.status is _QUEUED:
                            self._ledger.finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
                        raise
                    parked.discard(index)
                    if task.status is not _QUEUED:
                        limiter.refund()  # the task was claimed or cancelled while we waited
                        continue
                try:
                    # run()'s steps, inlined for the hot path: one coroutine frame per task fewer.
                    outcome = await run(task, None, me)
                    if outcome.error is None:
                        finish(task, _COMPLETED, outcome.result, None)
                    else:
                        self._settle(task, outcome, None)
                except asyncio.CancelledError:
                    raise
                except Exception:  # never let one task kill a worker
                    logger.exception("worker %d: unexpected error running task %s", index, task.id)
        except asyncio.CancelledError:
            pass
        finally:
            if self._workers.get(index) is me:  # a retired worker's index may be reused
                parked.discard(index)

    async def run(
        self, task: Task, timeout: float | None, owner: asyncio.Task[Any] | None = None
    ) -> tuple[Any, BaseException | None]:
        """One attempt of a QUEUED task, settled; returns (result, the error a caller sees)."""
        outcome = await self._executor.run(task, timeout, owner)
        if outcome.error is None:
            self._ledger.finish(task, TaskStatus.COMPLETED, outcome.result, None)
            return outcome.result, None
        return self._settle(task, outcome, timeout)

    def _settle(self, task: Task, outcome: AttemptOutcome, timeout: float | None) -> tuple[Any, BaseException | None]:
        seconds = timeout if timeout is not None else self._config.timeout
        decision = settle(
            task, outcome, timeout=seconds, retry_allowed=not self.stopped and task.status is TaskStatus.RUNNING
        )
        if isinstance(decision, Finish):
            self._ledger.finish(task, *decision)
            return decision.result, decision.error
        self._schedule_retry(task, decision.attempt)
        return None, public_error(task, outcome.error, outcome.interrupt, seconds)

    def _schedule_retry(self, task: Task, attempt: int) -> None:
        delay = retry_delay(task.retry_delay, attempt, task.id)
        task.transition(TaskStatus.WAITING_RETRY, self._clock.now())
        for listener in self._listeners.retry:
            listener(task, delay, attempt)
        self._backoff[task] = self._clock.call_later(delay, lambda: self._requeue(task))

    def _requeue(self, task: Task) -> None:
        self._backoff.pop(task, None)
        if task.status is not TaskStatus.WAITING_RETRY:
            return
        if not self.queue.has_capacity:
            self._ledger.finish(task, TaskStatus.FAILED, None, QueueFullError(max_tasks=self._config.max_tasks))
            return
        task.mark_queued()
        self.queue.push(task)

    # -- execute_task, cancellation, stop ---------------------------------------------

    async def execute(self, task: Task, timeout: float | None) -> Any:
        """execute_task: one attempt of a waiting task in the caller's coroutine, after a
        token; a failure with retries left schedules the retry and still raises.

        Raises:
            TaskAlreadyStartedError, or the attempt's public error.
        """
        if task.status is not _QUEUED:
            raise TaskAlreadyStartedError(task_id=task.id)
        claimed = self.queue.remove(task)
        if self.limiter is not None:
            try:
                await self.limiter.acquire()
            except BaseException:
                if claimed and task.status is _QUEUED:
                    self.queue.push(task)  # its caller was cancelled before it ran
                raise
        if task.status is not _QUEUED:
            raise TaskAlreadyStartedError(task_id=task.id)
        result, error = await self.run(task, timeout)
        if error is not None:
            raise error
        return result

    def cancel(self, task: Task) -> bool:
        """Withdraw a waiting or backing-off task: it finishes Cancelled. False otherwise."""
        status = task.status
        if status is _QUEUED:
            self.queue.remove(task)
        elif status is TaskStatus.WAITING_RETRY:
            timer = self._backoff.pop(task, None)
            if timer is not None:
                timer.cancel()
        else:
            return False
        self._ledger.finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
        return True

    async def stop_taking(self) -> None:
        """A graceful stop begins: nothing to hand back (registration is refused upstream)."""

    def stop(self) -> None:
        """Stop at once: no more dispatch, idle workers leave."""
        self.stopped = True
        self.queue.close()
        for index in list(self._parked):
            self._retire(index)

    async def join(self) -> None:
        tasks = [t for t in (*self._workers.values(), *self._retired) if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
