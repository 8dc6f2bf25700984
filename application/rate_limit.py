"""A token bucket shared by the workers and execute_task."""

from __future__ import annotations

import asyncio

from pyworker.application.ports import Clock


class TokenBucket:
    """Tokens refill at ``rate`` per second up to ``burst``; the bucket starts full.

    Waiters reserve a token up front (the balance may go negative), so starts
    are spaced exactly ``1/rate`` apart in request order, as golang.org/x/time/rate
    does. A cancelled wait gives its token back.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = now

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def refund(self) -> None:
        """Give back a token that was acquired but not used."""
        self._refill()
        self._tokens = min(self.burst, self._tokens + 1)

    async def acquire(self) -> None:
        """Wait for a token. Cancellation returns the reserved token."""
        delay = self.reserve()
        if delay <= 0:
            return
        try:
            await self._clock.sleep(delay)
        except asyncio.CancelledError:
            self._tokens += 1
            raise
