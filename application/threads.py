"""Plain ``def`` task functions on a small pool of daemon threads, completions batched to the loop."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from typing import Any

from pyworker.domain import TaskContext, TaskFunction


class SyncRunner:
    """Runs plain ``def`` task functions on ``size`` daemon threads.

    Jobs go to the threads through a ``queue.SimpleQueue`` (no
    concurrent.futures.Future per task). Completions come back in batches: a
    finishing thread appends to a deque and wakes the loop only if no wake-up
    is already pending, so a busy pool costs one loop wake-up per batch.
    """

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[_SyncJob | None] = queue.SimpleQueue()
        self._done: deque[tuple[_SyncJob, Any, BaseException | None]] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.resize(size)

    @property
    def size(self) -> int:
        return len(self._threads)

    def resize(self, size: int) -> None:
        """Grow to ``size`` threads (the pool never shrinks; idle threads cost nothing)."""
        while len(self._threads) < size and not self._closed:
            thread = threading.Thread(
                target=self._serve, name=f"pyworker-sync-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, fn: TaskFunction, ctx: TaskContext) -> _SyncJob:
        job = _SyncJob(self._loop.create_future(), fn, ctx)
        self._jobs.put(job)
        return job

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:  # shutdown
                return
            with self._lock:
                if job.state != _PENDING:  # cancelled before a thread took it
                    continue
                job.state = _RUNNING
            try:
                item: tuple[_SyncJob, Any, BaseException | None] = (job, job.fn(job.ctx), None)
            except BaseException as exc:  # delivered to the awaiting attempt
                item = (job, None, exc)
            self._done.append(item)
            with self._lock:
                if self._wake_pending:
                    continue
                self._wake_pending = True
            with contextlib.suppress(RuntimeError):  # loop closed: nobody waits any more
                self._loop.call_soon_threadsafe(self._deliver)

    def cancel(self, job: _SyncJob) -> bool:
        """Withdraw a job no thread has started; False once it runs."""
        with self._lock:
            if job.state != _PENDING:
                return False
            job.state = _CANCELLED
            return True

    def _deliver(self) -> None:
        with self._lock:
            self._wake_pending = False
        done = self._done
        while done:
            job, result, error = done.popleft()
            future = job.future
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Stop the threads once they finish what they run; queued jobs are dropped."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)


_PENDING, _RUNNING, _CANCELLED = 0, 1, 2


class _SyncJob:
    __slots__ = ("ctx", "fn", "future", "state")

    def __init__(self, future: asyncio.Future[Any], fn: TaskFunction, ctx: TaskContext) -> None:
        self.future = future
        self.fn = fn
        self.ctx = ctx
        self.state = _PENDING
