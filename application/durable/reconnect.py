"""Backing off while the durable backend is away: capped exponential delays, one log line each way."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from pyworker.application.ports import Clock, DurableQueue
from pyworker.domain import BackendUnavailableError

logger = logging.getLogger("pyworker.durable")

#: The longest wait between two tries while the backend is away.
MAX_BACKOFF = 5.0


class Reconnect:
    """Tracks one outage: ``failed(exc)`` returns how long to wait before the next try
    (``base``, doubling, capped at ``cap``) and logs once when the outage begins;
    ``succeeded()`` logs once when the backend answers again.
    """

    def __init__(self, what: str, base: float, cap: float = MAX_BACKOFF, level: int = logging.WARNING) -> None:
        self._what = what
        self._level = level
        self._base = base
        self._cap = max(cap, base)
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        if self.failures == 0:
            if isinstance(exc, BackendUnavailableError):
                logger.log(self._level, "durable %s failed: %s; retrying with backoff (logged once)", self._what, exc)
            else:
                logger.error("durable %s failed unexpectedly; retrying with backoff", self._what, exc_info=exc)
        self.failures += 1
        return float(min(self._base * 2 ** (self.failures - 1), self._cap))

    def succeeded(self) -> None:
        if self.failures:
            logger.log(self._level, "durable %s works again after %d failed tries", self._what, self.failures)
            self.failures = 0


async def backend_call(what: str, call: Awaitable[None]) -> None:
    """Await a queue call whose failure is not fatal: log it and go on, as go-worker does
    (the lease expires and the task is delivered again).
    """
    try:
        await call
    except Exception as exc:
        logger.warning("durable %s failed: %s", what, exc)


async def connect(queue: DurableQueue, clock: Clock, timeout: float, base: float) -> None:
    """Ping the queue until it answers, backing off, for at most ``timeout`` seconds.

    Raises:
        BackendUnavailableError: it did not answer in time (the last error).
    """
    deadline = clock.now() + timeout
    # Quiet by default: the caller reports a start that fails (workerctl: one line, exit 3).
    reconnect = Reconnect("connect", base, level=logging.INFO)
    while True:
        try:
            await queue.ping()
        except BackendUnavailableError as exc:
            delay = reconnect.failed(exc)
            if clock.now() + delay > deadline:
                raise
            await clock.sleep(delay)
            continue
        reconnect.succeeded()
        return
