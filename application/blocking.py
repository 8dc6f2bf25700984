"""A blocking facade for sync programs: the manager runs on a background event-loop thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, TypeVar

from pyworker.application.task_manager import TaskManager
from pyworker.domain import DurableTask, Duration, FacadeClosedError, Instant, MetricsSnapshot, Result, Task

__all__ = ["BlockingResults", "BlockingTaskManager", "FacadeClosedError"]

T = TypeVar("T")


class BlockingTaskManager:
    """Use a TaskManager from plain threads.

    ``BlockingTaskManager(**kwargs)`` builds a TaskManager with those arguments
    (or wraps ``manager=``) and runs it on its own event loop in a daemon
    thread. Every method blocks until the loop has done the work.

        with BlockingTaskManager(max_workers=4) as tm:
            tm.register_task(Task(execute=fn))
            tm.wait()
    """

    def __init__(self, manager: TaskManager | None = None, **kwargs: Any) -> None:
        self._lock = threading.Lock()  # makes "schedule a call" and "close" mutually exclusive
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pyworker-loop", daemon=True)
        self._thread.start()
        self.manager = manager if manager is not None else TaskManager(**kwargs)
        self._closed = False
        self.call(self.manager.start())

    @property
    def closed(self) -> bool:
        """True once stopped: the loop no longer runs."""
        return self._closed

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the facade's loop and block for its result.

        Raises:
            FacadeClosedError: the facade was stopped.
        """
        with self._lock:
            if self._closed:
                coro.close()
                raise FacadeClosedError()
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise FacadeClosedError() from None

    def call_in_loop(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop thread (the manager is loop-confined)."""
        async def call() -> T:
            return fn()

        return self.call(call())

    def register_task(self, task: Task) -> None:
        self.call(self.manager.register_task(task))

    def register_tasks(self, tasks: Iterable[Task]) -> None:
        self.call(self.manager.register_tasks(list(tasks)))

    def register_task_at(self, task: Task, run_at: Instant) -> None:
        self.call(self.manager.register_task_at(task, run_at))

    def register_task_after(self, task: Task, delay: Duration) -> None:
        self.call(self.manager.register_task_after(task, delay))

    def register_durable_task(self, task: DurableTask) -> uuid.UUID:
        return self.call(self.manager.register_durable_task(task))

    def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any:
        return self.call(self.manager.execute_task(task_id, timeout))

    def cancel_task(self, task_id: uuid.UUID | str) -> None:
        self.call(self.manager.cancel_task(task_id))

    def cancel_all(self) -> None:
        self.call_in_loop(self.manager.cancel_all)

    def get_task(self, task_id: uuid.UUID | str) -> Task:
        return self.call_in_loop(lambda: self.manager.get_task(task_id))

    def get_result(self, task_id: uuid.UUID | str) -> Result:
        """``TaskManager.get_result``: this node's finished task, or the store's outcome."""
        return self.call(self.manager.get_result(task_id))

    def get_tasks(self) -> list[Task]:
        return self.call_in_loop(self.manager.get_tasks)

    def get_metrics(self) -> MetricsSnapshot:
        return self.call_in_loop(self.manager.get_metrics)

    def wait(self, timeout: Duration | None = None) -> None:
        self.call(self.manager.wait(timeout))

    def results(self, buffer: int = 10) -> BlockingResults:
        """A blocking iterator over results from now on."""
        stream = self.call_in_loop(lambda: self.manager.subscribe_results(buffer))
        return BlockingResults(self, stream)

    def stop_graceful(self, timeout: Duration | None = None) -> None:
        if self._closed:
            return
        self.call(self.manager.stop_graceful(timeout))
        self._shutdown()

    def stop_now(self) -> None:
        """Stop at once. Idempotent."""
        if self._closed:
            return
        self.call(self.manager.stop_now())
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Calls scheduled by other threads before we closed are cancelled, so no
        # caller is left blocked on a loop that will never run its coroutine.
        asyncio.run_coroutine_threadsafe(_cancel_pending(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BlockingTaskManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._closed:
            return
        if exc_type is None:
            self.stop_graceful()
        else:
            self.stop_now()


async def _cancel_pending() -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class BlockingResults:
    """Iterate results from a sync thread; ends when the manager stops or on close()."""

    def __init__(self, owner: BlockingTaskManager, stream: Any) -> None:
        self._owner = owner
        self._stream = stream

    def get(self, timeout: float | None = None) -> Result:
        """The next result. Raises TimeoutError, or StopIteration once the stream ended."""
        if self._owner.closed:
            return self._buffered()

        async def next_result() -> Result | None:
            try:
                result: Result = await asyncio.wait_for(self._stream.get(), timeout)
            except StopAsyncIteration:
                return None
            return result

        try:
            result = self._owner.call(next_result())
        except FacadeClosedError:
            return self._buffered()
        if result is None:
            raise StopIteration
        return result

    def _buffered(self) -> Result:
        """After the loop is gone: hand out what was buffered, then end."""
        buffered: Result | None = self._stream.get_nowait()
        if buffered is None:
            raise StopIteration
        return buffered

    def __iter__(self) -> BlockingResults:
        return self

    def __next__(self) -> Result:
        return self.get()

    def close(self) -> None:
        if self._owner.closed:
            self._stream.close()
        else:
            self._owner.call_in_loop(self._stream.close)
