"""Waking idle durable workers: one at a time, each woken worker passing the baton on."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sized


class IdleWorkers:
    """The durable workers waiting for a ready lease, and who wakes whom.

    ``wake()`` wakes one idle worker unless one woken earlier has not resumed yet. A
    woken worker that takes a task and sees more ready calls ``wake()`` before it runs
    its own (a baton, not a herd): a batch of leases costs one wake-up per worker it
    actually needs, and attempts that finish without suspending (an empty handler) run
    back to back in one worker instead of costing a wake-up each.
    """

    __slots__ = ("_ready", "_waiters", "_waking")

    def __init__(self, ready: Sized) -> None:
        self._ready = ready
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._waking = False  # a woken worker has not resumed yet: it will wake the next one

    def wake(self) -> None:
        """Wake one idle worker, unless a woken one is still on its way."""
        if not self._waking:
            self._wake(every=False)

    def wake_all(self) -> None:
        """Wake every idle worker (a resize or a stop: each looks at its state again)."""
        self._wake(every=True)

    def _wake(self, every: bool) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._waking = True
                if not every:
                    return

    async def wait(self) -> None:
        """Idle until woken. A worker cancelled after its wake-up passes it on."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.pass_on()
            raise
        self._waking = False  # this worker was the woken one (or one of all)

    def pass_on(self) -> None:
        """A worker that may hold a wake-up leaves: another one takes the ready work."""
        self._waking = False
        if self._ready:
            self.wake()
