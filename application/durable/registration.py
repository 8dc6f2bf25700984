"""Durable registration: prepared tasks into the DurableQueue, one by one or in one round trip."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from pyworker.application.durable.handlers import DurableHandlers
from pyworker.application.ports import DurableQueue
from pyworker.application.telemetry import TraceContext, with_trace_context
from pyworker.domain import DurableTask


class DurableRegistrar:
    """The producer side of durable mode: validate with the handlers, then enqueue."""

    def __init__(self, queue: DurableQueue, handlers: DurableHandlers) -> None:
        self._queue = queue
        self._handlers = handlers
        #: Set by the engine from the tracer: the producer's trace context goes into
        #: each task's metadata, so the consumer's span continues the trace.
        self.trace_context: TraceContext | None = None

    async def register(self, task: DurableTask, run_at: float | None = None) -> uuid.UUID:
        return await self._queue.enqueue(self._prepare(task, run_at))

    def prepare(self, task: DurableTask) -> DurableTask:
        """Validate and normalise a task as ``register`` does, without enqueueing it
        (schedules enqueue through their ScheduleStore, application/schedules/)."""
        return self._prepare(task)

    def _prepare(self, task: DurableTask, run_at: float | None = None) -> DurableTask:
        prepared = self._handlers.prepare(task, run_at)
        if self.trace_context is not None:
            metadata = with_trace_context(prepared.metadata, self.trace_context)
            if metadata is not None:
                prepared = attrs.evolve(prepared, metadata=metadata)
        return prepared

    async def register_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID]:
        """Enqueue the valid tasks in one round trip; raise ExceptionGroup if any failed."""
        errors: list[Exception] = []
        prepared: list[DurableTask] = []
        for task in tasks:
            try:
                prepared.append(self._prepare(task))
            except Exception as exc:  # every bad task is reported; the good ones still go
                errors.append(exc)
        ids: list[uuid.UUID] = []
        if prepared:
            for outcome in await self._queue.enqueue_many(prepared):
                if isinstance(outcome, uuid.UUID):
                    ids.append(outcome)
                elif isinstance(outcome, Exception):
                    errors.append(outcome)
        if errors:
            raise ExceptionGroup(f"{len(errors)} durable task(s) failed to register", errors)
        return ids
