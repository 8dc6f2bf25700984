"""The dispatcher protocol: what the TaskManager asks of its local and durable dispatchers."""

from __future__ import annotations

from typing import Protocol

from pyworker.domain import Task


class Dispatcher(Protocol):
    """Feeds tasks to the attempt executor and settles their outcomes.

    Two implementations share the engine's services (ledger, executor, settle step,
    listeners) and never each other's state: ``LocalDispatcher`` (in-memory tasks
    from the ready queue) and ``DurableDispatcher`` (leases from a DurableQueue).
    """

    stopped: bool

    def start_workers(self) -> None:
        """Start what needs no I/O (local workers). Idempotent."""
        ...

    async def start(self) -> None:
        """Start everything (the durable fetch loop reaches the backend first)."""
        ...

    def resize(self, count: int) -> None:
        """Run ``count`` workers from now on; extra ones leave once idle."""
        ...

    def cancel(self, task: Task) -> bool:
        """Withdraw a task held here that has not started: it ends Cancelled. True if it was."""
        ...

    async def stop_taking(self) -> None:
        """A graceful stop begins: take no new work, hand back what has not started."""
        ...

    def stop(self) -> None:
        """A hard stop: dispatch nothing more."""
        ...

    async def join(self) -> None:
        """Wait for the workers and loops to end (the last acks flushed)."""
        ...
