"""The TaskManager's read side and observation: queries, results, hooks, telemetry, retention."""

from __future__ import annotations

import uuid
from typing import Any

from pyworker.application.engine import Engine
from pyworker.application.hooks import TaskHooks
from pyworker.application.ledger import parse_task_id
from pyworker.application.outcomes import outcome_result
from pyworker.application.ports import Meter, MeterFactory, Tracer
from pyworker.application.results import ResultStream
from pyworker.domain import (
    ConfigurationError,
    DropPolicy,
    MetricsSnapshot,
    Result,
    RetentionPolicy,
    Task,
    TaskNotFoundError,
)


class ManagerObservation:
    """The half of the TaskManager facade that reads and observes (TaskManager inherits
    it); every method delegates to one part of the engine.
    """

    _engine: Engine
    _meter_factory: MeterFactory | None

    # -- queries -----------------------------------------------------------------

    def get_task(self, task_id: uuid.UUID | str) -> Task:
        """The live task. Raises TaskNotFoundError (or InvalidTaskError for a malformed id)."""
        return self._engine.ledger.lookup(task_id)

    async def get_result(self, task_id: uuid.UUID | str) -> Result:
        """A finished task's Result: from this manager if the task finished here (and is
        not pruned), else, in durable mode, the outcome the store keeps for ``result_ttl``
        after it settled on any node (docs/cluster.md#results).

        Raises:
            TaskNotFoundError: no finished task with this id (unknown, not finished yet,
                pruned, or past the TTL).
            InvalidTaskError: a malformed id.
            BackendUnavailableError: the store did not answer.
        """
        engine = self._engine
        task_id = parse_task_id(task_id)
        task = engine.ledger.tasks.get(task_id.int)
        if task is not None and task.status.is_terminal:
            return Result(task=task, result=task.result, error=task.error)
        outcome = await engine.outcomes.get_result(task_id) if engine.outcomes is not None else None
        if outcome is None:
            raise TaskNotFoundError(task_id=task_id)
        return outcome_result(outcome)

    def get_tasks(self) -> list[Task]:
        return list(self._engine.ledger.tasks.values())

    def get_metrics(self) -> MetricsSnapshot:
        engine = self._engine
        waiting = len(engine.local.queue) if engine.local is not None else 0
        return engine.counters.snapshot(waiting, len(engine.executor.running))

    # -- results, hooks, telemetry, retention -------------------------------------

    def subscribe_results(self, buffer: int = 10) -> ResultStream:
        """A stream of terminal results from now on (buffer <= 0 means 1)."""
        return self._engine.results.subscribe(buffer)

    def get_results(self) -> ResultStream:
        """Compatibility shim: a stream with buffer 10, ended when the manager stops."""
        return self._engine.results.subscribe(10)

    def set_results_drop_policy(self, policy: DropPolicy | int) -> None:
        self._engine.results.set_policy(policy)

    def add_listener(self, listener: object) -> None:
        """Install a lifecycle listener (see ``pyworker.application.events.LifecycleListener``)."""
        self._engine.listeners.add(listener)

    def set_hooks(self, hooks: TaskHooks | None) -> None:
        """Replace the whole hook set."""
        self._engine.set_hooks(hooks)

    def set_tracer(self, tracer: Tracer | None) -> None:
        """One span per attempt; None disables tracing. A tracer with ``trace_context()``
        (``OtelTracer``) also carries the registering caller's trace into the task's metadata.
        """
        self._engine.set_tracer(tracer)

    def set_meter(self, meter: Meter | None) -> None:
        """Install a Meter (replacing and closing the previous one); None disables."""
        self._engine.set_meter(meter, self.get_metrics)

    def set_meter_provider(self, provider: Any, name: str = "pyworker", version: str | None = None) -> None:
        """Export metrics through an OpenTelemetry MeterProvider (None disables).

        Raises:
            ConfigurationError: the manager was built without a meter factory.
        """
        if provider is None:
            self.set_meter(None)
            return
        if self._meter_factory is None:
            raise ConfigurationError(
                reason="no meter factory: build the manager with "
                "TaskManager(meter_factory=pyworker.adapters.otel.otel_meter_factory), "
                "or call set_meter(pyworker.adapters.otel.OtelMeter(provider))"
            )
        self.set_meter(self._meter_factory(provider, name, version))

    def set_retention_policy(self, policy: RetentionPolicy) -> None:
        """Bound the registry of finished tasks; prunes once now (docs/task-manager.md, retention)."""
        self._engine.set_retention_policy(policy)
