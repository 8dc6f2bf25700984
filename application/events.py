"""Lifecycle events: what the engine tells its listeners, and the frozen attempt description."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from pyworker.domain import Task, TaskStatus

logger = logging.getLogger("pyworker.events")

AttemptStarted = Callable[[Task], None]
RetryScheduled = Callable[[Task, float, int], None]
#: (task, now): the attempt's function returned or raised (before it is settled).
AttemptEnded = Callable[[Task, float], None]
#: (task, status, result, error, now): called once, at the task's terminal transition.
TaskFinished = Callable[[Task, TaskStatus, Any, "BaseException | None", float], None]


class LifecycleListener(Protocol):
    """Something that reacts to the engine's lifecycle events (metrics, hooks, results,
    retention, telemetry...). A listener implements any of the four methods; the
    engine calls only those it has. Listeners run synchronously on the event loop, in
    the order they were installed; one that raises is logged and skipped.

    - ``attempt_started(task)``: an attempt is about to run (status RUNNING).
    - ``attempt_ended(task, now)``: its function returned or raised; the outcome
      is settled next (for a durable success: the ack, then ``task_finished``).
    - ``retry_scheduled(task, delay, attempt)``: a failed attempt will be retried.
    - ``task_finished(task, status, result, error, now)``: the terminal transition,
      exactly once per task, before ``wait()`` returns for it.
    """


@attrs.frozen
class AttemptInfo:
    """A frozen description of one attempt, for the tracer (never the mutable Task)."""

    task_id: uuid.UUID
    name: str
    queue: str
    priority: int
    weight: int
    attempt: int
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    correlation_id: str = ""

    @classmethod
    def of(cls, task: Task) -> AttemptInfo:
        return cls(
            task_id=task.id,
            name=task.name,
            queue=task.queue,
            priority=task.priority,
            weight=task.weight,
            attempt=task.attempts,
            metadata=dict(task.metadata),
            correlation_id=task.correlation_id,
        )


class Listeners:
    """The installed listeners, kept as one tuple of callables per event, so an event
    with no listener costs an empty loop and nothing is looked up per task.
    """

    __slots__ = ("_listeners", "ended", "finished", "retry", "started")

    def __init__(self, listeners: Iterable[object] = ()) -> None:
        self._listeners: tuple[object, ...] = ()
        self.started: tuple[AttemptStarted, ...] = ()
        self.ended: tuple[AttemptEnded, ...] = ()
        self.retry: tuple[RetryScheduled, ...] = ()
        self.finished: tuple[TaskFinished, ...] = ()
        self.replace(tuple(listeners))

    @property
    def installed(self) -> tuple[object, ...]:
        return self._listeners

    def add(self, listener: object) -> None:
        self.replace((*self._listeners, listener))

    def remove(self, listener: object) -> None:
        self.replace(tuple(item for item in self._listeners if item is not listener))

    def replace(self, listeners: tuple[object, ...]) -> None:
        self._listeners = listeners
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the tuples: a listener whose ``active`` is False is skipped (kept in place)."""
        listeners = tuple(item for item in self._listeners if getattr(item, "active", True))
        self.started = tuple(_guard(m) for m in _methods(listeners, "attempt_started"))
        self.ended = tuple(_guard(m) for m in _methods(listeners, "attempt_ended"))
        self.retry = tuple(_guard(m) for m in _methods(listeners, "retry_scheduled"))
        self.finished = tuple(_guard(m) for m in _methods(listeners, "task_finished"))


def _methods(listeners: tuple[object, ...], name: str) -> list[Any]:
    return [method for listener in listeners if (method := getattr(listener, name, None)) is not None]


def _guard(method: Any) -> Any:
    """Built-in listeners never raise and run bare; any other is wrapped so that one
    failing listener cannot break the finish path (the pending count, ``wait()``).
    """
    if getattr(getattr(method, "__self__", None), "trusted", False):
        return method

    def guarded(*args: Any) -> None:
        try:
            method(*args)
        except Exception:
            logger.exception("lifecycle listener %r raised; processing continues", method)

    return guarded
