"""The TaskManager: go-worker's facade over the engine (ledger, executor, dispatchers, listeners)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from pyworker.application.config import UNSET, DurableConfig, ManagerConfig, build_configs
from pyworker.application.durable.registration import DurableRegistrar
from pyworker.application.engine import Engine
from pyworker.application.hooks import TaskHooks
from pyworker.application.observation import ManagerObservation
from pyworker.application.ports import Clock, DurableCodec, DurableQueue, Meter, MeterFactory, NodeRegistry, Tracer
from pyworker.application.registry import DurableHandlerSpec, TypedDurableRegistry
from pyworker.application.schedules.facade import ScheduleMethods, new_schedule_service
from pyworker.domain import (
    DEFAULT_CANCEL_REASON,
    DurableModeError,
    DurableTask,
    Duration,
    Instant,
    RetentionPolicy,
    Task,
    TaskNotFoundError,
    to_epoch,
    to_seconds,
)


class TaskManager(ManagerObservation, ScheduleMethods):
    """Runs prioritized tasks on a pool of asyncio workers (in-memory or durable).

    Settings come as a ``ManagerConfig`` (``config=``) and a ``DurableConfig``
    (``durable_config=``); the keyword arguments of ``ManagerConfig`` and the
    ``durable_*`` ones are sugar that build them (``pyworker.application.config``
    documents each default). Ports: ``clock``, ``tracer``, ``meter``,
    ``meter_factory``; ``hooks``; ``retention``. Durable mode is on when
    ``durable_backend`` (a DurableQueue) is given, with ``durable_handlers`` and
    ``durable_codec`` (default: protobuf binary, as go-worker). A durable node
    heartbeats while started in ``node_registry``, by default its backend's
    (docs/cluster.md#nodes).
    """

    def __init__(
        self,
        max_workers: int = UNSET,
        max_tasks: int = UNSET,
        tasks_per_second: float = UNSET,
        timeout: Duration = UNSET,
        retry_delay: Duration = UNSET,
        max_retries: int = UNSET,
        *,
        default_queue: str = UNSET,
        queue_weights: Mapping[str, int] | None = UNSET,
        sync_workers: int | None = UNSET,
        config: ManagerConfig | None = None,
        durable_config: DurableConfig | None = None,
        clock: Clock | None = None,
        tracer: Tracer | None = None,
        meter: Meter | None = None,
        meter_factory: MeterFactory | None = None,
        hooks: TaskHooks | None = None,
        retention: RetentionPolicy | None = None,
        durable_backend: DurableQueue | None = None,
        durable_handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None = None,
        durable_codec: DurableCodec | None = None,
        durable_lease: Duration = UNSET,
        durable_poll_interval: Duration = UNSET,
        durable_batch_size: int = UNSET,
        durable_queues: Sequence[str] | None = UNSET,
        durable_prefetch: int = UNSET,
        durable_lease_renewal_interval: Duration = UNSET,
        durable_connect_timeout: Duration = UNSET,
        durable_node_ttl: Duration = UNSET,
        durable_result_ttl: Duration = UNSET,
        durable_results_max_len: int = UNSET,
        node_registry: NodeRegistry | None = None,
    ) -> None:
        self.config, self.durable_config = build_configs(config, durable_config, locals())
        self._engine = Engine(
            self.config,
            self.durable_config,
            clock=clock,
            tracer=tracer,
            hooks=hooks,
            retention=retention,
            durable_backend=durable_backend,
            durable_handlers=durable_handlers,
            durable_codec=durable_codec,
            node_registry=node_registry,
        )
        self._meter_factory = meter_factory
        self.schedules = new_schedule_service(self._engine, self.register_task)  # cron: docs/cluster.md
        config = self.config  # go-worker's fields, read-only copies of the config
        self.max_workers = config.max_workers
        self.max_tasks = config.max_tasks
        self.tasks_per_second = config.tasks_per_second
        self.timeout = config.timeout
        self.retry_delay = config.retry_delay
        self.max_retries = config.max_retries
        self.default_queue = config.default_queue
        self.queue_weights = dict(config.queue_weights)
        if meter is not None:
            self.set_meter(meter)

    # -- life cycle ------------------------------------------------------------

    async def __aenter__(self) -> TaskManager:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.stop_graceful()
        else:
            await self.stop_now()

    @property
    def clock(self) -> Clock:
        return self._engine.clock

    @property
    def durable(self) -> bool:
        return self._engine.durable is not None

    async def start(self) -> None:
        """Start the workers (and the retention and durable loops). Idempotent.

        Raises:
            BackendUnavailableError: durable mode, and the backend did not answer
                within ``DurableConfig.connect_timeout``.
        """
        await self._engine.start()
        if not self._engine.stopped:
            self.schedules.start()

    def start_workers(self) -> None:
        """Start what needs no I/O on the running loop. Idempotent; a no-op after stop."""
        self._engine.start_workers()

    def set_max_workers(self, count: int) -> None:
        """Grow or shrink the pool. Shrinking lets running attempts finish. < 0 is ignored."""
        if count < 0:
            return
        self.max_workers = count
        engine = self._engine
        engine.executor.resize_threads(count)
        if not engine.stopped:
            engine.dispatcher.resize(count)

    def get_active_tasks(self) -> int:
        """How many attempts are running now."""
        return len(self._engine.executor.running)

    def is_empty(self) -> bool:
        """True when no task waits (ready or delayed)."""
        local = self._engine.local
        return local is None or len(local.queue) == 0

    async def wait(self, timeout: Duration | None = None) -> None:
        """Block until every registered task (and in-flight durable lease) is terminal.

        Bookkeeping, hooks and result publication for those tasks happen first.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        engine = self._engine
        if engine.ledger.pending:
            engine.start_workers()
        await engine.ledger.wait_idle(to_seconds(timeout) if timeout is not None else None)

    async def stop_graceful(self, timeout: Duration | None = None) -> None:
        """Refuse new tasks, wait for the registered ones, then stop.

        Raises:
            WaitTimeoutError: the tasks did not finish in time; the manager keeps
                running them but still refuses new ones.
        """
        await self.schedules.stop()
        self._engine.accepting = False
        await self._engine.dispatcher.stop_taking()
        await self.wait(timeout)
        await self.stop_now()

    async def stop_now(self) -> None:
        """Stop at once: cancel waiting and running tasks, end result streams. Idempotent."""
        await self.schedules.stop()
        await self._engine.stop_now()

    # -- registration ----------------------------------------------------------

    async def register_task(self, task: Task) -> None:
        """Queue a task.

        Raises:
            InvalidTaskError: not a Task, no function, nil id, reused Task object.
            TaskAlreadyExistsError: a task with this id is registered.
            QueueFullError: max_tasks tasks already wait.
            NotAcceptingTasksError: the manager is stopping.
            DurableModeError: durable mode is on (use register_durable_task).
        In every error case nothing is registered.
        """
        self._engine.register(task)

    async def register_tasks(self, tasks: Iterable[Task]) -> None:
        """Register each task in order; valid ones are registered even if others fail.

        Raises:
            ExceptionGroup: one error per task that failed, in order.
        """
        errors = self._engine.register_many(tasks)
        if errors:
            raise ExceptionGroup(f"{len(errors)} task(s) failed to register", errors)

    async def register_task_at(self, task: Task, run_at: Instant) -> None:
        """Register a task that becomes ready at ``run_at`` (epoch seconds or datetime)."""
        self._engine.register_at(task, to_epoch(run_at))

    async def register_task_after(self, task: Task, delay: Duration) -> None:
        """Register a task that becomes ready after ``delay``; <= 0 registers it as is."""
        seconds = to_seconds(delay)
        if seconds <= 0:
            self._engine.register(task)
        else:
            self._engine.register_at(task, self._engine.clock.now() + seconds)

    async def register_durable_task(self, task: DurableTask) -> uuid.UUID:
        """Persist a durable task in the backend; returns its id."""
        return await self._durable_mode().register(task)

    async def register_durable_tasks(self, tasks: Iterable[DurableTask]) -> list[uuid.UUID]:
        """Persist several durable tasks in one round trip; raises ExceptionGroup on failures."""
        return await self._durable_mode().register_many(list(tasks))

    async def register_durable_task_at(self, task: DurableTask, run_at: Instant) -> uuid.UUID:
        return await self._durable_mode().register(task, run_at=to_epoch(run_at))

    async def register_durable_task_after(self, task: DurableTask, delay: Duration) -> uuid.UUID:
        seconds = to_seconds(delay)
        run_at = self._engine.clock.now() + seconds if seconds > 0 else None
        return await self._durable_mode().register(task, run_at=run_at)

    def _durable_mode(self) -> DurableRegistrar:
        durable = self._engine.durable
        if durable is None:
            raise DurableModeError(reason="durable backend not configured")
        return durable.registrar

    # -- queries, execution, cancellation ---------------------------------------------

    async def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any:
        """Run one attempt of a registered task now, in the caller's coroutine.

        Takes a token from the shared rate limiter. Returns the function's result.
        If the attempt fails with retries left, a retry is scheduled as usual and
        this call still raises the attempt's error.

        Raises:
            TaskNotFoundError, TaskAlreadyStartedError, DurableModeError, or the
            attempt's error (TaskCancelledError, TaskTimeoutError, the function's).
        """
        local = self._engine.local
        if local is None:
            raise DurableModeError(reason="execute_task is not supported when durable backend is enabled")
        seconds = to_seconds(timeout) if timeout is not None else 0.0
        return await local.execute(self._engine.ledger.lookup(task_id), seconds if seconds > 0 else None)

    async def cancel_task(self, task_id: uuid.UUID | str, *, reason: str = DEFAULT_CANCEL_REASON) -> None:
        """Cancel a waiting, delayed, backing-off, running or (durable) leased task.

        Waiting ones finish Cancelled at once; a running coroutine is cancelled and a
        running sync function sees ``ctx.cancelled``; a durable task leased here but not
        started is dead-lettered and finishes Cancelled. Terminal: no-op. A durable task
        this node does not know is cancelled through the store, whichever node holds it
        (docs/cluster.md#cancellation): withdrawn if it waits, else its holder is told and
        finishes it Cancelled; dead-lettered, never retried (domain.settled.cancel_text).

        Raises:
            TaskNotFoundError: unknown id (in durable mode: unknown to the store too).
        """
        engine = self._engine
        try:
            task = engine.ledger.lookup(task_id)
        except TaskNotFoundError:
            if engine.durable is None:
                raise
            await engine.cancel_stored(task_id if isinstance(task_id, uuid.UUID) else uuid.UUID(task_id), reason)
        else:
            await engine.cancel_task(task, reason)

    def cancel_all(self) -> None:
        """Cancel every registered task, as ``cancel_task`` does for each (a durable
        task leased but not started finishes Cancelled once its dead-lettering is sent).
        """
        self._engine.cancel_all()
