"""Clock adapters: the real clock, and a manual one that tests advance by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

import attrs

from pyworker.application.clock import LoopClock


class SystemClock(LoopClock):
    """Wall time from ``time.time()``; timers on the running event loop."""


@attrs.define(eq=False)
class _ManualTimer:
    when: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@attrs.define(eq=False)
class ManualClock:
    """A clock that only moves when told to: ``advance(seconds)`` fires every
    timer that falls due, in time order, and wakes sleepers. For tests of
    retries, delays, timeouts, rate limits and retention without real waiting.
    """

    start: float = 1_700_000_000.0
    _now: float = attrs.field(init=False)
    _timers: list[tuple[float, int, _ManualTimer]] = attrs.field(factory=list, init=False)
    _seq: itertools.count[int] = attrs.field(factory=itertools.count, init=False)

    def __attrs_post_init__(self) -> None:
        self._now = self.start

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _ManualTimer:
        timer = _ManualTimer(self._now + max(delay, 0.0), callback)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """How many timers are armed and not cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)

    def next_deadline(self) -> float | None:
        """When the earliest armed timer fires, or None."""
        for when, _, timer in sorted(self._timers):
            if not timer.cancelled:
                return when
        return None

    def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order (callbacks run synchronously)."""
        target = self._now + max(seconds, 0.0)
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = target

    def set(self, now: float) -> None:
        """Jump to ``now`` (forward only), firing due timers."""
        self.advance(now - self._now)
