"""Bounded waits for the tests: a hang becomes an AssertionError within seconds, not a global timeout.

Every helper here measures real time on the event loop (``loop.time()``), never the
``ManualClock`` a test may drive: the bound holds however the test moves its clock.
``asyncio.timeout`` rather than ``asyncio.wait_for``: the awaited coroutine runs in
the caller's own task, so code that looks at ``asyncio.current_task()`` (the owner
of an ``execute_task`` attempt) sees the test's task, as it would unbounded.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

WAIT = 5.0
"""Seconds any single wait may take before the test fails: generous for a loaded CI
machine (every wait here is for work that takes milliseconds), short next to the
suite's pytest-timeout."""


def _describe(awaitable: object) -> str:
    return getattr(awaitable, "__qualname__", None) or type(awaitable).__name__


async def within(awaitable: Awaitable[T], seconds: float = WAIT, what: str | None = None) -> T:
    """Await ``awaitable`` in the current task; fail the test if it takes longer than ``seconds``.

    Raises:
        AssertionError: the time ran out (the awaitable was cancelled). Any error the
            awaitable raises itself, a ``TimeoutError`` included, passes through.
    """
    label = what or _describe(awaitable)
    bound = asyncio.timeout(seconds)
    try:
        async with bound:
            return await awaitable
    except TimeoutError:
        if bound.expired():
            raise AssertionError(f"{label} did not finish within {seconds:g}s") from None
        raise


async def next_result(stream: AsyncIterator[T], seconds: float = WAIT) -> T:
    """The next item of an async iterator (a result stream), bounded.

    Raises:
        AssertionError: nothing arrived in time, or the stream ended.
    """
    try:
        return await within(stream.__anext__(), seconds, what="the next item of the stream")
    except StopAsyncIteration:
        raise AssertionError("the stream ended before the next item arrived") from None


async def collect(stream: AsyncIterator[T], seconds: float = WAIT) -> list[T]:
    """Every item until the stream ends (``[x async for x in stream]``), bounded in total."""

    async def drain() -> list[T]:
        return [item async for item in stream]

    return await within(drain(), seconds, what="the stream's end")


def join(thread: threading.Thread, seconds: float = WAIT) -> None:
    """``thread.join()`` with a bound; fail the test if the thread is still alive."""
    thread.join(seconds)
    assert not thread.is_alive(), f"thread {thread.name} still running after {seconds:g}s"


async def settle(rounds: int = 40) -> None:
    """Let every ready callback and coroutine run (used only to show that something did NOT happen)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(predicate: Callable[[], bool | Awaitable[bool]], seconds: float = WAIT) -> None:
    """Yield to the loop until ``predicate`` (sync or async) holds; fail if it does not within ``seconds``.

    It yields with ``sleep(0)``, so no real time passes while the loop has work; the
    real-time bound is for predicates on threads (plain ``def`` task functions).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        outcome = predicate()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"condition never became true within {seconds:g}s")
        await asyncio.sleep(0)
