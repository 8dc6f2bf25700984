"""The built-in lifecycle listeners: metrics, hooks, results fan-out and retention pruning."""

from __future__ import annotations

from typing import Any

from pyworker.application.events import Listeners
from pyworker.application.hooks import TaskHooks, call_hook
from pyworker.application.ports import Meter
from pyworker.application.results import ResultBroadcaster
from pyworker.application.retention import RegistryPruner
from pyworker.application.telemetry import MetricCounters
from pyworker.domain import Result, Task, TaskStatus

_COMPLETED = TaskStatus.COMPLETED
_CANCELLED = TaskStatus.CANCELLED


class MetricsListener:
    """Counts retries and terminal outcomes, and feeds the latency histogram."""

    trusted = True  # built in, never raises: called without a guard
    __slots__ = ("counters", "meter")

    def __init__(self, counters: MetricCounters) -> None:
        self.counters = counters
        self.meter: Meter | None = None

    def retry_scheduled(self, task: Task, delay: float, attempt: int) -> None:
        self.counters.retried += 1

    def task_finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        counters = self.counters
        if status is _COMPLETED:
            counters.completed += 1
        elif status is _CANCELLED:
            counters.cancelled += 1
        else:
            counters.failed += 1
        started = task.started_at
        if started is not None:
            latency = now - started if now > started else 0.0
            counters.latency_count += 1
            counters.latency_total += latency
            if latency > counters.latency_max:
                counters.latency_max = latency
            if self.meter is not None:
                self.meter.record_latency(latency)


class HooksListener:
    """Calls the user's TaskHooks; a hook that raises is logged and swallowed.

    Only the events with a hook are exposed, so an unset hook costs nothing.
    """

    trusted = True

    def __init__(self, hooks: TaskHooks) -> None:
        self.hooks = hooks
        self.attempt_started = self._started if hooks.on_start is not None else None
        self.retry_scheduled = self._retry if hooks.on_retry is not None else None
        self.task_finished = self._finished if hooks.on_finish is not None else None

    def _started(self, task: Task) -> None:
        call_hook("on_start", self.hooks.on_start, task)  # type: ignore[arg-type]  # set when bound

    def _retry(self, task: Task, delay: float, attempt: int) -> None:
        call_hook("on_retry", self.hooks.on_retry, task, delay, attempt)  # type: ignore[arg-type]

    def _finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        call_hook("on_finish", self.hooks.on_finish, task, status, result, error)  # type: ignore[arg-type]


class ResultsListener:
    """Publishes every terminal Result to the current subscribers. Inactive (skipped by
    the engine, so a finish costs no call) while nobody subscribes.
    """

    trusted = True
    __slots__ = ("broadcaster", "listeners")

    def __init__(self, broadcaster: ResultBroadcaster, listeners: Listeners) -> None:
        self.broadcaster = broadcaster
        self.listeners = listeners
        broadcaster.watchers.append(self._subscribers_changed)

    @property
    def active(self) -> bool:
        return bool(self.broadcaster.subscribers)

    def _subscribers_changed(self) -> None:
        self.listeners.refresh()

    def task_finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        self.broadcaster.publish(Result(task, result, error))


class RetentionListener:
    """Prunes the registry of finished tasks by the RetentionPolicy as tasks finish."""

    trusted = True
    __slots__ = ("pruner",)

    def __init__(self, pruner: RegistryPruner) -> None:
        self.pruner = pruner

    def task_finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        self.pruner.finished(task, now)
