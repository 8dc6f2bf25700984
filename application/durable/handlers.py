"""Durable handlers: validating a durable task for the queue, and turning a lease back into a Task."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from pyworker.application.attempt import is_async_function
from pyworker.application.config import ManagerConfig
from pyworker.application.ports import DurableCodec
from pyworker.application.registry import DurableHandlerSpec, TypedDurableRegistry, handler_map
from pyworker.domain import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    CodecError,
    DurableHandlerNotRegisteredError,
    DurableLease,
    DurablePayloadError,
    DurableTask,
    InvalidTaskError,
    Task,
    normalize_queue,
)


class DurableHandlers:
    """The durable handler map and the payload codec, used on both sides of the queue:
    ``prepare`` before an enqueue, ``build_task`` after a dequeue.
    """

    def __init__(
        self,
        handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None,
        codec: DurableCodec,
        config: ManagerConfig,
    ) -> None:
        self.specs: dict[str, DurableHandlerSpec] = handler_map(handlers)
        self.codec = codec
        self._config = config
        # Per handler name: its spec and the call class that binds a message to it
        # (build_task runs once per delivery; is_async_function is looked up once).
        self._binders: dict[str, tuple[DurableHandlerSpec, type[_AsyncCall] | type[_SyncCall]]] = {}

    def prepare(self, task: DurableTask, run_at: float | None = None) -> DurableTask:
        """Validate and normalise a durable task for the queue (docs/durable.md, registration).

        Raises:
            InvalidTaskError, DurableHandlerNotRegisteredError, DurablePayloadError.
        """
        if not isinstance(task, DurableTask):
            raise InvalidTaskError(reason="durable task is nil" if task is None else "not a DurableTask")
        handler = task.handler.strip() if isinstance(task.handler, str) else ""
        if not handler:
            raise InvalidTaskError(reason="durable task handler is required")
        spec = self.specs.get(handler)
        if spec is None:
            raise DurableHandlerNotRegisteredError(handler=handler)
        if not isinstance(task.priority, int) or not MIN_PRIORITY <= task.priority <= MAX_PRIORITY:
            raise InvalidTaskError(reason=f"priority {task.priority!r} is outside the 32-bit range")
        payload = task.payload
        message = task.message
        if payload is None:
            if message is None:
                raise DurablePayloadError(reason="durable task payload or message is required")
            try:
                payload = self.codec.encode(message)
            except CodecError as exc:
                raise DurablePayloadError(reason=f"marshal durable payload: {exc}") from exc
        elif message is None:
            try:
                self.codec.decode(payload, spec.make)
            except CodecError as exc:
                raise DurablePayloadError(reason=f"durable payload validation: {exc}") from exc
        config = self._config
        return attrs.evolve(
            task,
            handler=handler,
            id=task.id if task.id is not None and task.id.int != 0 else uuid.uuid4(),
            payload=payload,
            run_at=run_at if run_at is not None else task.run_at,
            queue=normalize_queue(task.queue, config.default_queue),
            weight=task.weight if task.weight > 0 else 1,
            retries=min(max(task.retries, 0), config.max_retries),
            retry_delay=task.retry_delay if task.retry_delay > 0 else config.retry_delay,
        )

    def build_task(self, lease: DurableLease) -> Task:
        """The in-process Task for one delivery.

        Raises:
            DurablePayloadError, DurableHandlerNotRegisteredError: a poison message.
        """
        durable = lease.task
        if durable.id is None:
            raise DurablePayloadError(reason="durable task missing id")
        handler = durable.handler
        spec = self.specs.get(handler)
        if spec is None:
            raise DurableHandlerNotRegisteredError(handler=handler)
        binder = self._binders.get(handler)
        if binder is None or binder[0] is not spec:
            binder = self._binders[handler] = (spec, _AsyncCall if is_async_function(spec.fn) else _SyncCall)
        if durable.payload is None:
            raise DurablePayloadError(reason="durable task payload is missing")
        try:
            message = self.codec.decode(durable.payload, spec.make)
        except CodecError as exc:
            raise DurablePayloadError(reason=f"unmarshal durable payload: {exc}") from exc
        config = self._config
        queue = durable.queue
        task = Task(
            binder[1](spec.fn, message),
            durable.priority,
            # Stored normalised by the enqueue; normalised again only when it is not.
            queue
            if queue and not queue[0].isspace() and not queue[-1].isspace()
            else normalize_queue(queue, config.default_queue),
            durable.weight if durable.weight > 0 else 1,
            lease.max_retries,
            durable.retry_delay if durable.retry_delay > 0 else config.retry_delay,
            name=durable.name or handler,
            id=durable.id,
            metadata=durable.metadata,
        )
        # ctx.attempt counts deliveries across nodes: this run is attempt lease.attempts.
        if lease.attempts > 1:
            task.restore_attempts(lease.attempts - 1)
        return task


class _AsyncCall:
    # A class rather than a closure per task: is_async_function caches by type.
    __slots__ = ("fn", "message")

    def __init__(self, fn: Any, message: Any) -> None:
        self.fn = fn
        self.message = message

    async def __call__(self, ctx: Any) -> Any:
        return await self.fn(ctx, self.message)


class _SyncCall:
    __slots__ = ("fn", "message")

    def __init__(self, fn: Any, message: Any) -> None:
        self.fn = fn
        self.message = message

    def __call__(self, ctx: Any) -> Any:
        return self.fn(ctx, self.message)
