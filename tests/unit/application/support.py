"""Fakes for the application unit tests: gates, recorders, hook logs (waits live in tests.support.waits)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from pyworker.application import TaskHooks, TaskManager
from pyworker.domain import Task, TaskContext

MakeManager = Callable[..., TaskManager]


class Gate:
    """An async task function that reports it started and blocks until released."""

    def __init__(self, result: Any = "gate") -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.result = result
        self.calls = 0
        self.contexts: list[TaskContext] = []
        self.cancelled = False

    async def __call__(self, ctx: TaskContext) -> Any:
        self.calls += 1
        self.contexts.append(ctx)
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return self.result


class SyncGate:
    """A plain ``def`` task function: reports it started (to the loop) and blocks its
    thread until released or cancelled. Records what it saw."""

    def __init__(self, loop: asyncio.AbstractEventLoop, result: Any = "sync") -> None:
        self._loop = loop
        self.started = asyncio.Event()
        self.release = threading.Event()
        self.result = result
        self.thread_ids: list[int] = []
        self.saw_cancel: bool | None = None

    def __call__(self, ctx: TaskContext) -> Any:
        self.thread_ids.append(threading.get_ident())
        self._loop.call_soon_threadsafe(self.started.set)
        # ctx.wait returns True once the attempt is cancelled or timed out; the
        # release event is the other way out.
        cancelled = ctx.wait(0.001)
        while not cancelled and not self.release.is_set():
            cancelled = ctx.wait(0.01)
        self.saw_cancel = cancelled
        return self.result


class Recorder:
    """Appends labels in call order; a task function per label."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def fn(self, label: str) -> Callable[[TaskContext], Any]:
        async def run(ctx: TaskContext) -> str:
            self.order.append(label)
            return label

        return run


class HookLog:
    """TaskHooks that record every call as a tuple."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def hooks(self) -> TaskHooks:
        return TaskHooks(
            on_queued=lambda task: self.calls.append(("queued", task.id)),
            on_start=lambda task: self.calls.append(("start", task.id, task.attempts)),
            on_retry=lambda task, delay, attempt: self.calls.append(("retry", task.id, delay, attempt)),
            on_finish=lambda task, status, result, error: self.calls.append(("finish", task.id, status, result, error)),
        )

    def kinds(self, task: Task | None = None) -> list[str]:
        return [call[0] for call in self.calls if task is None or call[1] == task.id]

    def finishes(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == "finish"]


async def ok(ctx: TaskContext) -> str:
    return "ok"


class BoomError(Exception):
    """The error failing task functions raise."""


def failing(times: int, result: Any = "recovered") -> Callable[[TaskContext], Any]:
    """An async function that raises BoomError on its first ``times`` calls, then returns ``result``."""
    state = {"calls": 0}

    async def run(ctx: TaskContext) -> Any:
        state["calls"] += 1
        if state["calls"] <= times:
            raise BoomError(f"attempt {ctx.attempt}")
        return result

    return run


def terminal(task: Task) -> bool:
    return task.status.is_terminal
