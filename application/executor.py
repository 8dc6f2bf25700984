"""The attempt executor: runs one attempt (coroutine or thread) with its deadline and cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

from pyworker.application.attempt import Attempt, Deadlines, Interrupt, call_sync_function, is_async_function
from pyworker.application.clock import now_reader
from pyworker.application.events import AttemptInfo, Listeners
from pyworker.application.ledger import TaskLedger
from pyworker.application.ports import Clock, TaskSpan, Tracer
from pyworker.application.settle import AttemptOutcome
from pyworker.application.telemetry import end_span, start_span
from pyworker.application.threads import SyncRunner
from pyworker.domain import TaskCancelledError, TaskContext, TaskStatus

#: Builds an AttemptOutcome in C (the NamedTuple constructor is a Python function).
_new_outcome = tuple.__new__


class AttemptExecutor:
    """Runs attempts for both dispatchers and knows which are running.

    One attempt: the task goes RUNNING, the attempt-started listeners and the tracer
    hear of it, the function runs (a coroutine inline in the caller's asyncio task, a
    plain function on a thread of the SyncRunner), and the outcome comes back frozen.
    The caller settles it (``application.settle``). Deadlines share one timer.

    Args:
        clock: time and timers.
        ledger: finishes a task whose caller was cancelled from outside mid-attempt.
        listeners: the attempt-started listeners.
        timeout: the default per-attempt timeout in seconds.
        sync_workers: threads for plain ``def`` functions.
    """

    def __init__(
        self, clock: Clock, ledger: TaskLedger, listeners: Listeners, timeout: float, sync_workers: int
    ) -> None:
        self._clock = clock
        self._now = now_reader(clock)
        self._ledger = ledger
        self._listeners = listeners
        self.timeout = timeout
        self.tracer: Tracer | None = None
        # Keyed by the Task object (identity hash): UUID.__hash__ is Python code.
        self.running: dict[Any, Attempt] = {}
        self._deadlines = Deadlines(clock, self.running)
        self._sync_workers = sync_workers
        self._sync: SyncRunner | None = None
        self.abandon_threads = False  # set by a hard stop: interrupts stop waiting for threads
        # is_async_function of the last function run: a batch usually runs one function.
        self._last_fn: Any = None
        self._last_async = False

    async def run(
        self, task: Any, timeout: float | None = None, owner: asyncio.Task[Any] | None = None
    ) -> AttemptOutcome:
        """Run one attempt of ``task`` (QUEUED, or a durable delivery) in the current asyncio task.

        Raises:
            CancelledError: the caller was cancelled from outside (not by us); the task
                is finished Cancelled first.
        """
        now = self._now()
        number = task.start(now)  # -> RUNNING
        deadline = now + (timeout if timeout is not None else self.timeout)
        ctx = TaskContext(task.id, number, deadline, task.name)
        attempt = Attempt(ctx, owner if owner is not None else asyncio.current_task(), deadline)
        running = self.running
        running[task] = attempt
        listeners = self._listeners
        if listeners.started:
            for listener in listeners.started:
                listener(task)
        tracer = self.tracer
        span = start_span(tracer, AttemptInfo.of(task)) if tracer is not None else None
        deadlines = self._deadlines
        if deadline < deadlines.at:  # else the armed timer fires first and re-arms (Deadlines)
            deadlines.arm(deadline)
        fn = task.execute
        if fn is self._last_fn:
            asynchronous = self._last_async
        else:
            asynchronous = self._last_async = is_async_function(fn)
            self._last_fn = fn
        result: Any = None
        error: BaseException | None = None
        try:
            if asynchronous:
                result = await fn(ctx)
            else:
                result = await call_sync_function(fn, ctx, attempt, self._threads())
        except asyncio.CancelledError as exc:
            if attempt.cancels:
                attempt.settle_cancels()
                error = exc
            elif attempt.owner is not None and attempt.owner.cancelling():
                # Cancelled from outside (e.g. the caller of execute_task): finish, then propagate.
                self._end(task, span, exc)
                self._ledger.finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
                raise
            else:
                error = exc  # the function itself raised CancelledError
        except Exception as exc:
            error = exc
        if attempt.cancels:
            attempt.settle_cancels()
        # self._end(task, span, error), inlined for the hot path
        del running[task]
        if listeners.ended:
            now = self._now()
            for ended in listeners.ended:
                ended(task, now)
        if span is not None:
            end_span(span, error)
        return _new_outcome(AttemptOutcome, (result, error, attempt.reason))

    def _end(self, task: Any, span: TaskSpan | None, error: BaseException | None) -> None:
        """The attempt is over: it leaves the running map (the gauge) and its span ends."""
        del self.running[task]
        if self._listeners.ended:
            now = self._now()
            for listener in self._listeners.ended:
                listener(task, now)
        if span is not None:
            end_span(span, error)

    def interrupt(self, task: Any) -> bool:
        """Cancel a running attempt (a hard stop abandons a thread instead of waiting)."""
        attempt = self.running.get(task)
        if attempt is None:
            return False
        if self.abandon_threads:
            attempt.abandon()
        else:
            attempt.interrupt(Interrupt.CANCEL)
        return True

    def resize_threads(self, count: int) -> None:
        """Grow the thread pool for plain functions (it never shrinks)."""
        self._sync_workers = max(self._sync_workers, count)
        if self._sync is not None:
            self._sync.resize(self._sync_workers)

    def _threads(self) -> SyncRunner:
        if self._sync is None:
            self._sync = SyncRunner(self._sync_workers, asyncio.get_running_loop())
        return self._sync

    def close(self) -> None:
        """Disarm the deadline timer (stop)."""
        self._deadlines.close()

    def shutdown_threads(self) -> None:
        """Let the threads end once their current function returns."""
        if self._sync is not None:
            self._sync.shutdown()
            self._sync = None
