"""Result fan-out: every subscriber gets its own bounded buffer and drop policy."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from types import TracebackType

from pyworker.domain import DropPolicy, Result


class ResultStream:
    """One subscription: an async iterator of Results, closable, usable as a
    context manager (``async with`` or plain ``with``).

    Iteration ends after ``close()`` (buffered results are discarded), or when
    the manager stops (buffered results are still delivered first).
    """

    def __init__(self, buffer: int, broadcaster: ResultBroadcaster | None) -> None:
        self.buffer = buffer
        self._items: deque[Result] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._broadcaster = broadcaster

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Unsubscribe and end iteration. Idempotent."""
        self._items.clear()
        self.end()

    def end(self) -> None:
        """End iteration after what is buffered, and leave the broadcaster (the manager stops)."""
        if self._closed:
            return
        self._closed = True
        if self._broadcaster is not None:
            self._broadcaster.unsubscribe(self)
            self._broadcaster = None
        self._notify()

    def _notify(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def detach(self) -> None:
        """Forget the broadcaster without unsubscribing (it is closing and drops every stream)."""
        self._broadcaster = None

    def offer(self, result: Result, policy: DropPolicy) -> bool:
        """Buffer a result; False when it had to be dropped."""
        items = self._items
        if len(items) >= self.buffer:
            if policy is not DropPolicy.DROP_OLDEST:
                return False
            items.popleft()  # evicting the oldest is not a drop (docs/task-manager.md#results)
        items.append(result)
        self._notify()
        return True

    def get_nowait(self) -> Result | None:
        """The next buffered result, or None."""
        return self._items.popleft() if self._items else None

    async def get(self) -> Result:
        """Wait for the next result. Raises StopAsyncIteration once the stream ended."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> Result:
        return await self.get()

    async def __aenter__(self) -> ResultStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __enter__(self) -> ResultStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ResultBroadcaster:
    """Delivers each terminal Result to every current subscriber, never blocking."""

    def __init__(self, on_drop: Callable[[int], None]) -> None:
        self.policy = DropPolicy.DROP_NEWEST
        self.subscribers: list[ResultStream] = []
        #: Called in order when the subscriber list goes from empty to not, or back (the
        #: engine installs the results listener, and runs the result feed, only while
        #: someone listens).
        self.watchers: list[Callable[[], None]] = []
        self._closed = False
        self._on_drop = on_drop

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, buffer: int) -> ResultStream:
        """A new stream with ``buffer`` slots (<= 0 means 1). Already ended once closed."""
        stream = ResultStream(max(buffer, 1), None if self._closed else self)
        if self._closed:
            stream.end()
        else:
            self.subscribers.append(stream)
            if len(self.subscribers) == 1:
                self._changed()
        return stream

    def unsubscribe(self, stream: ResultStream) -> None:
        with contextlib.suppress(ValueError):
            self.subscribers.remove(stream)
            if not self.subscribers:
                self._changed()

    def _changed(self) -> None:
        for watcher in self.watchers:
            watcher()

    def set_policy(self, policy: DropPolicy | int) -> None:
        """DROP_NEWEST or DROP_OLDEST; any other value means DROP_NEWEST."""
        self.policy = DropPolicy.DROP_OLDEST if policy == DropPolicy.DROP_OLDEST else DropPolicy.DROP_NEWEST

    def publish(self, result: Result) -> None:
        if self._closed:
            return
        dropped = 0
        policy = self.policy
        for stream in self.subscribers:
            if not stream.offer(result, policy):
                dropped += 1
        if dropped:
            self._on_drop(dropped)

    def close(self) -> None:
        """End every stream after what it has buffered; later results are discarded."""
        if self._closed:
            return
        self._closed = True
        subscribers, self.subscribers = self.subscribers, []
        if subscribers:
            self._changed()
        for stream in subscribers:
            stream.detach()
            stream.end()
