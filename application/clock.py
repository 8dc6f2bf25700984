"""The default Clock: wall time from time.time(), timers on the running event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pyworker.application.ports import Clock


class LoopClock:
    """What the manager uses when no Clock is injected (adapters.clock.SystemClock is this)."""

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))


def now_reader(clock: Clock) -> Callable[[], float]:
    """``clock.now``, or ``time.time`` itself when that is all ``clock.now`` does (a
    LoopClock whose ``now`` is not overridden): the same reading without a Python call.
    """
    return time.time if getattr(type(clock), "now", None) is LoopClock.now else clock.now
