"""The engine: the parts a TaskManager is made of, wired once, and their life cycle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pyworker.application.clock import LoopClock
from pyworker.application.codec import ProtoDurableCodec
from pyworker.application.config import DurableConfig, ManagerConfig
from pyworker.application.dispatch import Dispatcher
from pyworker.application.durable import DurableDispatcher, DurableHandlers
from pyworker.application.durable.feed import ResultFeed
from pyworker.application.events import Listeners
from pyworker.application.executor import AttemptExecutor
from pyworker.application.hooks import TaskHooks
from pyworker.application.ledger import TaskLedger
from pyworker.application.listeners import HooksListener, MetricsListener, ResultsListener, RetentionListener
from pyworker.application.local import LocalDispatcher
from pyworker.application.nodes import NodeHeartbeat, new_node_id, this_node
from pyworker.application.outcomes import DurableResultsProvider
from pyworker.application.ports import (
    Clock,
    DurableCodec,
    DurableQueue,
    Meter,
    NodeRegistry,
    NodeRegistryProvider,
    Tracer,
)
from pyworker.application.registry import DurableHandlerSpec, TypedDurableRegistry
from pyworker.application.results import ResultBroadcaster
from pyworker.application.retention import RegistryPruner, RetentionSweeper
from pyworker.application.telemetry import (
    MetricCounters,
    NoopTracer,
    TraceContext,
    close_meter,
    trace_context_of,
    with_trace_context,
)
from pyworker.domain import (
    DEFAULT_CANCEL_REASON,
    TERMINAL_STATUSES,
    CancelOutcome,
    DurableModeError,
    InvalidTaskError,
    NotAcceptingTasksError,
    RetentionPolicy,
    Task,
    TaskStatus,
)


class Engine:
    """Shared services (ledger, executor, listeners, results) and one dispatcher: the
    local one, or the durable one when a DurableQueue is given. Parts talk through
    these public attributes and never reach into each other's private state.
    """

    def __init__(
        self,
        config: ManagerConfig,
        durable_config: DurableConfig,
        *,
        clock: Clock | None,
        tracer: Tracer | None,
        hooks: TaskHooks | None,
        retention: RetentionPolicy | None,
        durable_backend: DurableQueue | None,
        durable_handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None,
        durable_codec: DurableCodec | None,
        node_registry: NodeRegistry | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else LoopClock()
        self.counters = MetricCounters()
        self.results = ResultBroadcaster(self._count_drops)
        self.metrics = MetricsListener(self.counters)
        self.hooks = HooksListener(hooks or TaskHooks())
        self.listeners = Listeners((self.metrics, self.hooks))
        self.listeners.add(ResultsListener(self.results, self.listeners))
        self.ledger = TaskLedger(self.clock, self.listeners)
        self.pruner = RegistryPruner(self.ledger.tasks, retention)
        if retention is not None:
            self.listeners.add(RetentionListener(self.pruner))
        self.sweeper = RetentionSweeper(self.pruner, self.clock)
        self.executor = AttemptExecutor(
            self.clock, self.ledger, self.listeners, config.timeout, config.sync_workers or config.max_workers
        )
        self.trace_context: TraceContext | None = None
        self.meter: Meter | None = None
        self.local: LocalDispatcher | None = None
        self.durable: DurableDispatcher | None = None
        self.dispatcher: Dispatcher
        if durable_backend is None:
            self.local = self.dispatcher = LocalDispatcher(
                config, self.clock, self.ledger, self.executor, self.listeners, self.counters
            )
            self.local.admission.on_queued = self.hooks.hooks.on_queued
        else:
            # One id for the registry and the outcomes this node records (docs/cluster.md).
            durable_config = attrs.evolve(durable_config, node_id=durable_config.node_id or new_node_id())
            handlers = DurableHandlers(durable_handlers, durable_codec or ProtoDurableCodec(), config)
            self.durable = self.dispatcher = DurableDispatcher(
                durable_backend,
                handlers,
                durable_config,
                config,
                self.clock,
                self.ledger,
                self.executor,
                self.listeners,
            )
        self.heartbeat: NodeHeartbeat | None = None
        provider: object = durable_backend  # any DurableQueue may also hold its nodes' registry
        self.outcomes = provider.results() if isinstance(provider, DurableResultsProvider) else None
        self.feed: ResultFeed | None = None
        if self.outcomes is not None and durable_config.result_ttl > 0:
            self.feed = ResultFeed(
                self.outcomes, self.results, self.ledger, self.clock, durable_config.poll_interval,
                durable_config.node_id or "",
            )  # fmt: skip
            self.results.watchers.insert(0, self.feed.subscribers_changed)  # before the listeners refresh
            self.listeners.add(self.feed)
        if node_registry is None and isinstance(provider, NodeRegistryProvider):
            node_registry = provider.node_registry()  # docs/cluster.md#nodes
        if self.durable is not None and node_registry is not None and durable_config.node_ttl > 0:
            node = this_node(durable_config.node_id, durable_config.queues, config.max_workers, durable_config.node_ttl)
            durable = self.durable
            self.heartbeat = NodeHeartbeat(
                node_registry, self.clock, node, lambda: len(self.executor.running), lambda: durable.workers
            )
        self.set_tracer(tracer)
        self.accepting = True
        self.started = False
        self.stopped = False

    def _count_drops(self, count: int) -> None:
        self.counters.results_dropped += count

    # -- life cycle ------------------------------------------------------------

    def start_workers(self) -> None:
        if self.started or self.stopped:
            return
        self.started = True
        self.ledger.start()
        self.dispatcher.start_workers()
        self.sweeper.ensure_running()
        if self.feed is not None:
            self.feed.start()

    async def start(self) -> None:
        self.start_workers()
        if not self.stopped:
            await self.dispatcher.start()
            if self.heartbeat is not None and not self.stopped:
                await self.heartbeat.start()  # the node is leasing: announce it

    async def stop_now(self) -> None:
        self.accepting = False
        if not self.stopped:
            self.stopped = True
            self.executor.abandon_threads = True
            self.dispatcher.stop()
            await self.dispatcher.stop_taking()
            self.cancel_all()
            self.results.close()
            self.executor.close()
            self.sweeper.stop()
        await self.dispatcher.join()
        if self.feed is not None:
            await self.feed.close()
        if self.heartbeat is not None:
            await self.heartbeat.stop()  # after the last acks: the node is gone now
        if self.sweeper.task is not None:
            await asyncio.gather(self.sweeper.task, return_exceptions=True)
        self.executor.shutdown_threads()

    # -- registration and cancellation --------------------------------------------------

    def register(self, task: Task) -> None:
        """Queue an in-memory task.

        Raises:
            InvalidTaskError, DurableModeError, NotAcceptingTasksError, and what
            LocalDispatcher.register raises; nothing is registered in any error case.
        """
        errors = self.register_many((task,))
        if errors:
            raise errors[0]

    def register_many(self, tasks: Iterable[Task]) -> list[Exception]:
        """``register`` each task in order (one loop, no call per task); returns the
        errors of the refused ones, in order. The valid ones are registered.
        """
        local = self.local
        if local is not None and self.accepting and self.trace_context is None and local.admission.on_queued is None:
            # The same steps with no code of the caller's in between: the admission's one loop.
            return local.admission.register_many(tasks, None if self.started else self.start_workers)
        errors: list[Exception] = []
        for task in tasks:
            try:
                if type(task) is not Task and not isinstance(task, Task):
                    raise InvalidTaskError(reason="task is nil" if task is None else "not a Task")
                if local is None:
                    raise DurableModeError(reason="durable backend enabled; use register_durable_task")
                if not self.accepting:
                    raise NotAcceptingTasksError()
                local.admission.register(task)
                if self.trace_context is not None:  # after: a refused task is left as it was
                    metadata = with_trace_context(task.metadata, self.trace_context)
                    if metadata is not None:
                        task.metadata = metadata  # no attempt can start before this returns
                if not self.started:
                    self.start_workers()
            except Exception as exc:  # each error is reported, none stops the batch
                errors.append(exc)
        return errors

    def register_at(self, task: Task, run_at: float | None) -> None:
        """``register`` with ``run_at`` replaced; a refused task keeps its own."""
        if not isinstance(task, Task):
            raise InvalidTaskError(reason="task is nil")
        previous = task.run_at
        task.run_at = run_at
        try:
            self.register(task)
        except BaseException:
            task.run_at = previous
            raise

    async def cancel_task(self, task: Task, reason: str = DEFAULT_CANCEL_REASON) -> None:
        durable = self.durable
        if durable is not None:
            withdrawal = durable.withdraw(task, reason)
            if withdrawal is not None:
                await withdrawal
                return
        self.cancel(task)

    async def cancel_stored(self, task_id: uuid.UUID, reason: str) -> CancelOutcome:
        """Cancel a durable task this node does not know, through the store (any node may
        hold it; docs/cluster.md#cancellation).

        Raises:
            DurableModeError: not a durable manager; TaskNotFoundError: the store does not know it.
        """
        if self.durable is None:
            raise DurableModeError(reason="durable backend not configured")
        return await self.durable.queue.cancel(task_id, reason)

    def cancel(self, task: Task) -> None:
        if not self.dispatcher.cancel(task) and task.status is TaskStatus.RUNNING:
            self.executor.interrupt(task)

    def cancel_all(self) -> None:
        for task in list(self.ledger.tasks.values()):
            if task.status not in TERMINAL_STATUSES:  # finished ones have nothing to cancel
                self.cancel(task)

    # -- listeners, hooks, meter, retention ---------------------------------------

    def set_hooks(self, hooks: TaskHooks | None) -> None:
        previous = self.hooks
        self.hooks = HooksListener(hooks or TaskHooks())
        self.listeners.replace(tuple(self.hooks if item is previous else item for item in self.listeners.installed))
        if self.local is not None:
            self.local.admission.on_queued = self.hooks.hooks.on_queued

    def set_tracer(self, tracer: Tracer | None) -> None:
        """One span per attempt; a tracer with ``trace_context()`` also stamps the
        registering caller's trace context into each new task's metadata.
        """
        # A NoopTracer records nothing: the executor skips the span calls entirely.
        self.executor.tracer = None if type(tracer) is NoopTracer else tracer
        self.trace_context = trace_context_of(tracer)
        if self.durable is not None:
            self.durable.registrar.trace_context = self.trace_context

    def set_meter(self, meter: Meter | None, snapshot: Any) -> None:
        if self.meter is not None:
            close_meter(self.meter)
        self.meter = self.metrics.meter = meter
        if meter is not None:
            meter.observe(snapshot)

    def set_retention_policy(self, policy: RetentionPolicy) -> None:
        if self.pruner.policy is None:
            self.listeners.add(RetentionListener(self.pruner))
        self.pruner.set_policy(policy, self.clock.now())
        if self.started and not self.stopped:
            self.sweeper.ensure_running()
