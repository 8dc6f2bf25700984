"""Fakes for the durable-mode manager tests: probe handlers, a recording backend (waits: tests.support.waits)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs

from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskHooks, TaskManager, TypedDurableRegistry
from pyworker.domain import DurableLease, TaskContext
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload

MakeDurable = Callable[..., TaskManager]


class BoomError(Exception):
    """What failing handlers raise."""


class Probe:
    """A durable handler body (``probe.run``) that records each call and can be told to fail or block.

    ``fail_first`` calls raise BoomError("boom <attempt>"). With ``block`` set, every
    call announces itself on ``started`` and waits for its own gate: ``release(n)``
    lets call ``n`` (0-based) finish, ``release_all()`` lets every call, current or
    future, finish.
    """

    def __init__(self, fail_first: int = 0, block: bool = False, result: Any = "done") -> None:
        self.fail_first = fail_first
        self.block = block
        self.result = result
        self.calls: list[tuple[TaskContext, Any]] = []
        self.gates: list[asyncio.Event] = []
        self.started = asyncio.Event()
        self.cancelled = 0

    @property
    def attempts(self) -> list[int]:
        return [ctx.attempt for ctx, _ in self.calls]

    @property
    def messages(self) -> list[Any]:
        return [message for _, message in self.calls]

    def release(self, call: int) -> None:
        self.gates[call].set()

    def release_all(self) -> None:
        self.block = False
        for gate in self.gates:
            gate.set()

    async def run(self, ctx: TaskContext, message: Any) -> Any:
        """The handler. A bound coroutine method, so the manager runs it on the loop, not in a thread."""
        self.calls.append((ctx, message))
        gate = asyncio.Event()
        self.gates.append(gate)
        self.started.set()
        if self.block:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if len(self.calls) <= self.fail_first:
            raise BoomError(f"boom {ctx.attempt}")
        return self.result


def email(to: str = "ada@example.com") -> SendEmailPayload:
    """The message every durable test sends."""
    return SendEmailPayload(to=to, subject="hi", body="hello")


def registry_for(
    probe: Any, name: str = "send_email", message_type: type[Any] = SendEmailPayload
) -> TypedDurableRegistry:
    """A registry with one handler, ``name``, whose body is ``probe.run``."""
    registry = TypedDurableRegistry()
    registry.add_typed(name, message_type, probe.run)
    return registry


class HookLog:
    """TaskHooks that record every call as a tuple."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def hooks(self) -> TaskHooks:
        return TaskHooks(
            on_queued=lambda task: self.calls.append(("queued", task.id)),
            on_start=lambda task: self.calls.append(("start", task.id, task.attempts)),
            on_retry=lambda task, delay, attempt: self.calls.append(("retry", task.id, delay, attempt)),
            on_finish=lambda task, status, result, error: self.calls.append(("finish", task.id, status, result)),
        )

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


@attrs.define
class DequeueCall:
    limit: int
    returned: int


class RecordingBackend:
    """An InMemoryDurableBackend that records dequeue calls and can damage leases.

    ``strip_payload`` holds task ids whose leases come back without a payload (a
    record damaged in storage), which the backend itself would never accept.
    """

    def __init__(self, inner: InMemoryDurableBackend) -> None:
        self.inner = inner
        self.dequeues: list[DequeueCall] = []
        self.strip_payload: set[Any] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        leases = await self.inner.dequeue(limit, lease)
        if leases:
            self.dequeues.append(DequeueCall(limit, len(leases)))
        return [
            attrs.evolve(item, task=attrs.evolve(item.task, payload=None))
            if item.task.id in self.strip_payload
            else item
            for item in leases
        ]
