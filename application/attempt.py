"""The mechanics of one attempt: async detection, the interrupt handle, sync calls, deadlines."""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import math
import types
from collections.abc import Mapping
from typing import Any

from pyworker.application.ports import Clock, TimerHandle
from pyworker.application.threads import SyncRunner
from pyworker.domain import TaskContext, TaskFunction

_ASYNC_CACHE: dict[Any, bool] = {}
_FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)
_ASYNC_CACHE_LIMIT = 4096


def is_async_function(fn: Any) -> bool:
    """inspect.iscoroutinefunction, memoised (it is on the hot path): per function
    object, and per class for callable instances (whose ``__call__`` decides).
    """
    key = fn if type(fn) in _FUNCTION_TYPES else type(fn)
    try:
        return _ASYNC_CACHE[key]
    except KeyError:
        result = _is_coroutine_callable(fn)
        if len(_ASYNC_CACHE) >= _ASYNC_CACHE_LIMIT:
            _ASYNC_CACHE.clear()
        _ASYNC_CACHE[key] = result
        return result
    except TypeError:  # unhashable callable
        return _is_coroutine_callable(fn)


def _is_coroutine_callable(fn: Any) -> bool:
    """Coroutine functions, and objects whose ``__call__`` is ``async def``."""
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    call = type(fn).__call__ if callable(fn) else None
    return inspect.iscoroutinefunction(call)


class Interrupt(enum.Enum):
    """Why the manager interrupted an attempt."""

    CANCEL = "cancel"
    TIMEOUT = "timeout"


class Attempt:
    """The live state of one running attempt.

    The manager interrupts an attempt by signalling its context (what sync code
    polls) and cancelling the asyncio task that runs it (what coroutines see).
    ``cancels`` counts the cancellations we sent, so the runner can tell them
    from an outside cancellation and ``uncancel`` exactly those.
    """

    __slots__ = ("abandoned", "cancels", "ctx", "deadline", "owner", "reason")

    def __init__(self, ctx: TaskContext, owner: asyncio.Task[Any] | None, deadline: float) -> None:
        self.ctx = ctx
        self.owner = owner
        self.deadline = deadline
        self.reason: Interrupt | None = None
        self.cancels = 0
        self.abandoned = False

    def interrupt(self, reason: Interrupt) -> None:
        """Cancel or time out the attempt. The first reason wins."""
        if self.reason is not None:
            return
        self.reason = reason
        self.ctx.signal()
        self._cancel_owner()

    def abandon(self) -> None:
        """Stop waiting for a sync function's thread (hard stop)."""
        self.abandoned = True
        if self.reason is None:
            self.reason = Interrupt.CANCEL
            self.ctx.signal()
        self._cancel_owner()

    def expire(self) -> None:
        self.interrupt(Interrupt.TIMEOUT)

    def _cancel_owner(self) -> None:
        owner = self.owner
        # A function that cancels itself sees only the context flag: cancelling
        # the running task from inside would land outside the attempt.
        if owner is None or owner is asyncio.current_task() or owner.done():
            return
        self.cancels += 1
        owner.cancel()

    def settle_cancels(self) -> None:
        """Undo the cancellations we sent that the function swallowed."""
        owner = self.owner
        while self.cancels and owner is not None:
            owner.uncancel()
            self.cancels -= 1


async def call_sync_function(
    fn: TaskFunction,
    ctx: TaskContext,
    attempt: Attempt,
    runner: SyncRunner,
) -> Any:
    """Run a plain ``def`` task function on the thread pool without blocking the loop.

    When the attempt is interrupted, the function keeps its thread: its context
    is signalled and the attempt waits for it to return, unless the manager is
    stopping hard (``attempt.abandon()``). Raises what the function raises, or
    CancelledError.
    """
    job = runner.submit(fn, ctx)
    try:
        result = await job.future
    except asyncio.CancelledError:
        not_started = runner.cancel(job)
        if not attempt.cancels or not_started or attempt.abandoned:
            raise
        attempt.cancels -= 1
        if attempt.owner is not None:
            attempt.owner.uncancel()
        # The thread still runs: wait for the function to notice ctx.cancelled.
        job.future = asyncio.get_running_loop().create_future()
        result = await job.future
    if inspect.isawaitable(result):  # a sync callable that returned a coroutine
        result = await result
    return result


class Deadlines:
    """Times out running attempts with one timer instead of one per attempt.

    At most ``max_workers`` attempts (plus execute_task callers) run at once,
    so the timer is armed for the earliest running deadline and, when it
    fires, scans them all. Starting an attempt costs a comparison with ``at``
    (the caller calls ``arm`` only for an earlier deadline); finishing one
    costs nothing (its entry leaves ``running``).
    """

    def __init__(self, clock: Clock, running: Mapping[Any, Attempt]) -> None:
        self._clock = clock
        self._running = running
        self._timer: TimerHandle | None = None
        #: When the timer fires (infinity while it is not armed).
        self.at = math.inf

    def arm(self, when: float) -> None:
        """Fire at ``when`` (replacing the armed timer)."""
        if self._timer is not None:
            self._timer.cancel()
        self.at = when
        self._timer = self._clock.call_later(when - self._clock.now(), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.at = math.inf
        now = self._clock.now()
        earliest: float | None = None
        for attempt in list(self._running.values()):
            if attempt.reason is not None:
                continue  # already interrupted, unwinding
            if attempt.deadline <= now:
                attempt.expire()
            elif earliest is None or attempt.deadline < earliest:
                earliest = attempt.deadline
        if earliest is not None:
            self.arm(earliest)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self.at = math.inf
