"""The TaskManager: a worker pool over a priority queue, with retries, results and hooks."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from pyworker.application.attempt import (
    Attempt,
    Deadlines,
    Interrupt,
    SyncRunner,
    call_sync_function,
    is_async_function,
)
from pyworker.application.clock import LoopClock
from pyworker.application.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_TASKS,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRY_DELAY,
    DEFAULT_TASKS_PER_SECOND,
    DEFAULT_TIMEOUT,
    DurableConfig,
    ManagerConfig,
)
from pyworker.application.durable import DurableRunner
from pyworker.application.hooks import TaskHooks, call_hook
from pyworker.application.outcome import classify, public_error
from pyworker.application.ports import Clock, DurableBackend, DurableCodec, Meter, MeterFactory, Tracer
from pyworker.application.rate_limit import TokenBucket
from pyworker.application.registry import DurableHandlerSpec, TypedDurableRegistry
from pyworker.application.results import ResultBroadcaster, ResultStream
from pyworker.application.retention import RegistryPruner
from pyworker.application.scheduler import TaskQueue
from pyworker.application.telemetry import MetricCounters, close_meter, end_span, start_span
from pyworker.domain import (
    DEFAULT_LEASE,
    ConfigurationError,
    DropPolicy,
    DurableModeError,
    DurableTask,
    Duration,
    Instant,
    InvalidTaskError,
    MetricsSnapshot,
    NotAcceptingTasksError,
    QueueFullError,
    Result,
    RetentionPolicy,
    Task,
    TaskAlreadyExistsError,
    TaskAlreadyStartedError,
    TaskCancelledError,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
    WaitTimeoutError,
    normalize_queue,
    retry_delay,
    to_epoch,
    to_seconds,
)

logger = logging.getLogger("pyworker")


_QUEUED = TaskStatus.QUEUED
_RUNNING = TaskStatus.RUNNING


class TaskManager:
    """Runs prioritized tasks on a pool of asyncio workers.

    Settings come as a ``ManagerConfig`` (``config=``) and a ``DurableConfig``
    (``durable_config=``); the keyword arguments below are sugar that builds them
    when they are not given (see ``pyworker.application.config`` for each default).

    Args:
        max_workers: concurrent attempts (<= 0: the number of CPUs).
        max_tasks: how many tasks may wait, ready or delayed (<= 0: 10).
        tasks_per_second: dispatch rate, shared with execute_task (<= 0: unlimited);
            the bucket holds min(max_workers, max_tasks) tokens and starts full.
        timeout: default per-attempt timeout in seconds (<= 0: 5 minutes).
        retry_delay: default base retry delay (<= 0: 1 s).
        max_retries: cap on every task's retries (< 0: 3; 0 disables retries).
        default_queue: the queue of tasks registered without one.
        queue_weights: inter-queue weights for weighted round robin.
        clock, tracer, meter, meter_factory: ports (safe defaults).
        hooks: lifecycle hooks. retention: a RetentionPolicy.
        sync_workers: threads for plain ``def`` task functions (default: max_workers).
        durable_*: durable mode, see ``register_durable_task``; ``durable_queues``
            limits the queues this node leases from (default: all); ``durable_prefetch``
            leases that many tasks beyond the running ones, so the next batch is local.
        close_backend: close the durable backend when the manager stops (set
            when the manager owns it, as the container's managers do).
    """

    def __init__(
        self,
        max_workers: int = 0,
        max_tasks: int = DEFAULT_MAX_TASKS,
        tasks_per_second: float = DEFAULT_TASKS_PER_SECOND,
        timeout: Duration = DEFAULT_TIMEOUT,
        retry_delay: Duration = DEFAULT_RETRY_DELAY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        *,
        default_queue: str = "default",
        queue_weights: Mapping[str, int] | None = None,
        sync_workers: int | None = None,
        config: ManagerConfig | None = None,
        durable_config: DurableConfig | None = None,
        clock: Clock | None = None,
        tracer: Tracer | None = None,
        meter: Meter | None = None,
        meter_factory: MeterFactory | None = None,
        hooks: TaskHooks | None = None,
        retention: RetentionPolicy | None = None,
        durable_backend: DurableBackend | None = None,
        durable_handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None = None,
        durable_codec: DurableCodec | None = None,
        durable_lease: Duration = DEFAULT_LEASE,
        durable_poll_interval: Duration = DEFAULT_POLL_INTERVAL,
        durable_batch_size: int = DEFAULT_BATCH_SIZE,
        durable_queues: Sequence[str] | None = None,
        durable_prefetch: int = 0,
        durable_lease_renewal_interval: Duration = 0.0,
        durable_connect_timeout: Duration = 0.0,
        close_backend: bool = False,
    ) -> None:
        if config is None:
            config = ManagerConfig(
                max_workers=max_workers,
                max_tasks=max_tasks,
                tasks_per_second=tasks_per_second,
                timeout=timeout,
                retry_delay=retry_delay,
                max_retries=max_retries,
                default_queue=default_queue,
                queue_weights=queue_weights,
                sync_workers=sync_workers,
            )
        if durable_config is None:
            durable_config = DurableConfig(
                lease=durable_lease,
                poll_interval=durable_poll_interval,
                batch_size=durable_batch_size,
                queues=durable_queues,
                prefetch=durable_prefetch,
                renewal_interval=durable_lease_renewal_interval,
                connect_timeout=durable_connect_timeout,
            )
        self.config = config
        self.durable_config = durable_config
        self.max_workers = config.max_workers
        self.max_tasks = config.max_tasks
        self.tasks_per_second = config.tasks_per_second
        self.timeout = config.timeout
        self.retry_delay = config.retry_delay
        self.max_retries = config.max_retries
        self.default_queue = config.default_queue
        self.queue_weights = dict(config.queue_weights)
        self._queue_names = {self.default_queue}  # names known to be normalised

        self._clock: Clock = clock if clock is not None else LoopClock()
        self._tracer = tracer
        self._meter: Meter | None = None
        self._meter_factory = meter_factory
        self._hooks = hooks or TaskHooks()
        self._counters = MetricCounters()
        self._queue = TaskQueue(self._clock, self.max_tasks, self.queue_weights)
        self._limiter = (
            TokenBucket(self.tasks_per_second, min(self.max_workers, self.max_tasks), self._clock)
            if self.tasks_per_second > 0
            else None
        )
        self._results = ResultBroadcaster(self._count_drops)
        self._tasks: dict[int, Task] = {}  # keyed by id.int: UUID.__hash__ is Python code
        # Keyed by the Task object (identity hash): UUID.__hash__ is Python code.
        self._running: dict[Task, Attempt] = {}
        self._backoff: dict[Task, Any] = {}  # retry timers
        self._deadlines = Deadlines(self._clock, self._running)
        self._pending = 0
        self._idle: asyncio.Event | None = None
        self._pruner = RegistryPruner(self._tasks, retention)
        self._retention_task: asyncio.Task[None] | None = None

        self._sync_workers = config.sync_workers or self.max_workers
        self._sync: SyncRunner | None = None
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._parked: set[int] = set()  # workers waiting for a task or a token
        self._retired: list[asyncio.Task[None]] = []  # cancelled idle workers, joined at stop
        self._target_workers = self.max_workers
        self._accepting = True
        self._started = False
        self._stopped = False
        self._abandon_threads = False

        # Durable mode lives in application.durable; the manager only wires it.
        self._durable: DurableRunner | None = None
        if durable_backend is not None:
            self._durable = DurableRunner(
                self,
                backend=durable_backend,
                handlers=durable_handlers,
                codec=durable_codec,
                lease=durable_config.lease,
                poll_interval=durable_config.poll_interval,
                batch_size=durable_config.batch_size,
                queues=durable_config.queues,
                prefetch=durable_config.prefetch,
                renewal_interval=durable_config.renewal_interval,
                close_backend=close_backend,
            )
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
        return self._clock

    @property
    def durable(self) -> bool:
        return self._durable is not None

    async def start(self) -> None:
        """Start the workers (and the retention and durable loops). Idempotent."""
        self.start_workers()
        if self._durable is not None:
            await self._durable.start()

    def start_workers(self) -> None:
        """Start workers on the running loop. Idempotent; a no-op after stop."""
        if self._started or self._stopped:
            return
        self._started = True
        self._idle = asyncio.Event()
        if self._pending == 0:
            self._idle.set()
        if self._durable is None:  # in durable mode the durable workers replace them
            self._spawn_workers()
        self._ensure_retention_loop()

    def _spawn_workers(self) -> None:
        for index in range(self._target_workers):
            worker = self._workers.get(index)
            if worker is None or worker.done():
                self._workers[index] = asyncio.get_running_loop().create_task(
                    self._worker(index), name=f"pyworker-worker-{index}"
                )

    def set_max_workers(self, count: int) -> None:
        """Grow or shrink the pool. Shrinking lets running attempts finish. < 0 is ignored."""
        if count < 0:
            return
        self._target_workers = count
        self.max_workers = count
        self._sync_workers = max(self._sync_workers, count)
        if self._sync is not None:
            self._sync.resize(self._sync_workers)
        if not self._started or self._stopped:
            return
        for index in list(self._parked):
            if index >= count:
                self._retire(index)
        if self._durable is None:
            self._spawn_workers()
        else:
            self._durable.resize()

    def _retire(self, index: int) -> None:
        """Cancel an idle worker; a later grow spawns a fresh one at its index."""
        worker = self._workers.pop(index, None)
        self._parked.discard(index)
        if worker is not None:
            worker.cancel()
            self._retired.append(worker)

    def get_active_tasks(self) -> int:
        """How many attempts are running now."""
        return len(self._running)

    def is_empty(self) -> bool:
        """True when no task waits (ready or delayed)."""
        return len(self._queue) == 0

    async def wait(self, timeout: Duration | None = None) -> None:
        """Block until every registered task (and in-flight durable lease) is terminal.

        Bookkeeping, hooks and result publication for those tasks happen first.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        if self._pending == 0:
            return
        self.start_workers()
        event = self._idle
        assert event is not None
        if timeout is None:
            await event.wait()
        else:
            await self._wait_event(event, to_seconds(timeout))

    async def _wait_event(self, event: asyncio.Event, timeout: float) -> None:
        owner = asyncio.current_task()
        assert owner is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            if not event.is_set():
                expired = True
                owner.cancel()

        timer = self._clock.call_later(timeout, expire)
        try:
            await event.wait()
        except asyncio.CancelledError:
            if expired:
                owner.uncancel()
                raise WaitTimeoutError(timeout=timeout) from None
            raise
        finally:
            timer.cancel()

    async def stop_graceful(self, timeout: Duration | None = None) -> None:
        """Refuse new tasks, wait for the registered ones, then stop.

        Raises:
            WaitTimeoutError: the tasks did not finish in time; the manager keeps
                running them but still refuses new ones.
        """
        self._accepting = False
        if self._durable is not None:
            await self._durable.stop_fetching()
        await self.wait(timeout)
        await self.stop_now()

    async def stop_now(self) -> None:
        """Stop at once: cancel waiting and running tasks, end result streams. Idempotent."""
        self._accepting = False
        if not self._stopped:
            self._stopped = True
            self._abandon_threads = True
            if self._durable is not None:
                await self._durable.stop_fetching()
            self.cancel_all()
            self._results.close()
            self._queue.close()
            self._deadlines.close()
            for index in list(self._parked):
                self._retire(index)
            if self._retention_task is not None:
                self._retention_task.cancel()
        await self._join()

    async def _join(self) -> None:
        tasks: list[asyncio.Task[Any]] = [t for t in (*self._workers.values(), *self._retired) if not t.done()]
        if self._retention_task is not None and not self._retention_task.done():
            tasks.append(self._retention_task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._durable is not None:
            await self._durable.close()
        if self._sync is not None:
            self._sync.shutdown()
            self._sync = None

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
        self._register(task)

    def _register(self, task: Task) -> None:
        if type(task) is not Task and not isinstance(task, Task):
            raise InvalidTaskError(reason="task is nil" if task is None else "not a Task")
        if self._durable is not None:
            raise DurableModeError(reason="durable backend enabled; use register_durable_task")
        if not self._accepting:
            raise NotAcceptingTasksError()
        if task.status is not TaskStatus.UNKNOWN:
            if task.id.int in self._tasks:
                raise TaskAlreadyExistsError(task_id=task.id)
            raise InvalidTaskError(reason=f"task {task.id} was registered before; create a new Task")
        try:
            task.validate()
        except InvalidTaskError as exc:
            task.mark_invalid(exc)
            raise
        tasks = self._tasks
        if tasks.setdefault(task.id.int, task) is not task:
            raise TaskAlreadyExistsError(task_id=task.id)
        queue = self._queue
        if not queue.has_capacity:
            del tasks[task.id.int]
            raise QueueFullError(max_tasks=self.max_tasks)
        # From here on nothing can fail: the task is registered.
        if not self._started:
            self.start_workers()
        if type(task.retry_delay) is not float or (task.run_at is not None and type(task.run_at) is not float):
            # Fields reassigned after construction skip the attrs converters.
            task.retry_delay = to_seconds(task.retry_delay)
            task.run_at = to_epoch(task.run_at)
        retries = task.retries
        if retries > self.max_retries or retries < 0:
            task.retries = 0 if retries < 0 else self.max_retries
        if task.retry_delay <= 0:
            task.retry_delay = self.retry_delay
        name = task.queue
        if not name:
            task.queue = self.default_queue
        elif name not in self._queue_names:
            task.queue = normalize_queue(name, self.default_queue)
            self._queue_names.add(task.queue)
        if task.weight <= 0:
            task.weight = 1
        task.transition(_QUEUED, self._clock.now())
        queue.push(task)
        self._pending += 1
        if self._pending == 1 and self._idle is not None:
            self._idle.clear()
        self._counters.scheduled += 1
        if self._hooks.on_queued is not None:
            call_hook("on_queued", self._hooks.on_queued, task)

    async def register_tasks(self, tasks: Iterable[Task]) -> None:
        """Register each task in order; valid ones are registered even if others fail.

        Raises:
            ExceptionGroup: one error per task that failed, in order.
        """
        errors: list[Exception] = []
        for task in tasks:
            try:
                self._register(task)
            except Exception as exc:  # each error is reported, none stops the batch
                errors.append(exc)
        if errors:
            raise ExceptionGroup(f"{len(errors)} task(s) failed to register", errors)

    async def register_task_at(self, task: Task, run_at: Instant) -> None:
        """Register a task that becomes ready at ``run_at`` (epoch seconds or datetime)."""
        if not isinstance(task, Task):
            raise InvalidTaskError(reason="task is nil")
        self._register_delayed(task, to_epoch(run_at))

    async def register_task_after(self, task: Task, delay: Duration) -> None:
        """Register a task that becomes ready after ``delay``; <= 0 registers it as is."""
        if not isinstance(task, Task):
            raise InvalidTaskError(reason="task is nil")
        seconds = to_seconds(delay)
        if seconds <= 0:
            self._register(task)
        else:
            self._register_delayed(task, self._clock.now() + seconds)

    def _register_delayed(self, task: Task, run_at: float | None) -> None:
        previous = task.run_at
        task.run_at = run_at
        try:
            self._register(task)
        except BaseException:
            task.run_at = previous  # a refused registration leaves the task as it was
            raise

    # -- durable registration (see application.durable) -----------------------

    async def register_durable_task(self, task: DurableTask) -> uuid.UUID:
        """Persist a durable task in the backend; returns its id."""
        return await self._durable_runner().register(task)

    async def register_durable_tasks(self, tasks: Iterable[DurableTask]) -> list[uuid.UUID]:
        """Persist several durable tasks in one round trip; raises ExceptionGroup on failures."""
        return await self._durable_runner().register_many(list(tasks))

    async def register_durable_task_at(self, task: DurableTask, run_at: Instant) -> uuid.UUID:
        return await self._durable_runner().register(task, run_at=to_epoch(run_at))

    async def register_durable_task_after(self, task: DurableTask, delay: Duration) -> uuid.UUID:
        seconds = to_seconds(delay)
        run_at = self._clock.now() + seconds if seconds > 0 else None
        return await self._durable_runner().register(task, run_at=run_at)

    def _durable_runner(self) -> DurableRunner:
        if self._durable is None:
            raise DurableModeError(reason="durable backend not configured")
        return self._durable

    # -- queries -----------------------------------------------------------------

    def _lookup(self, task_id: uuid.UUID | str) -> Task:
        if isinstance(task_id, str):
            try:
                task_id = uuid.UUID(task_id)
            except ValueError:
                raise InvalidTaskError(reason=f"invalid task id {task_id!r}") from None
        task = self._tasks.get(task_id.int)
        if task is None:
            raise TaskNotFoundError(task_id=task_id)
        return task

    def get_task(self, task_id: uuid.UUID | str) -> Task:
        """The live task. Raises TaskNotFoundError (or InvalidTaskError for a malformed id)."""
        return self._lookup(task_id)

    def get_tasks(self) -> list[Task]:
        return list(self._tasks.values())

    def get_metrics(self) -> MetricsSnapshot:
        return self._counters.snapshot(len(self._queue), len(self._running))

    # -- execution ---------------------------------------------------------------

    async def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any:
        """Run one attempt of a registered task now, in the caller's coroutine.

        Takes a token from the shared rate limiter. Returns the function's result.
        If the attempt fails with retries left, a retry is scheduled as usual and
        this call still raises the attempt's error.

        Raises:
            TaskNotFoundError, TaskAlreadyStartedError, DurableModeError, or the
            attempt's error (TaskCancelledError, TaskTimeoutError, the function's).
        """
        if self._durable is not None:
            raise DurableModeError(reason="execute_task is not supported when durable backend is enabled")
        task = self._lookup(task_id)
        if task.status is not _QUEUED:
            raise TaskAlreadyStartedError(task_id=task.id)
        removed = self._queue.remove(task)
        if self._limiter is not None:
            try:
                await self._limiter.acquire()
            except BaseException:
                if removed and task.status is _QUEUED:
                    self._queue.push(task)
                raise
        if task.status is not _QUEUED:
            raise TaskAlreadyStartedError(task_id=task.id)
        seconds = to_seconds(timeout) if timeout is not None else 0.0
        result, error = await self._run(task, seconds if seconds > 0 else None)
        if error is not None:
            raise error
        return result

    async def _worker(self, index: int) -> None:
        queue = self._queue
        parked = self._parked
        me = asyncio.current_task()
        try:
            while not self._stopped and index < self._target_workers:
                task = queue.pop_ready()
                if task is None:
                    parked.add(index)  # parked workers may be cancelled (shrink, stop)
                    task = await queue.get()
                    parked.discard(index)
                limiter = self._limiter
                if limiter is not None:
                    parked.add(index)
                    try:
                        await limiter.acquire()
                    except asyncio.CancelledError:
                        if task.status is _QUEUED:
                            self._finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
                        raise
                    parked.discard(index)
                if task.status is not _QUEUED:
                    if self._limiter is not None:
                        self._limiter.refund()  # the task was claimed or cancelled while we waited
                    continue
                try:
                    result, error, reason = await self.run_attempt(task, None, me)
                    if error is None:
                        self._finish(task, TaskStatus.COMPLETED, result, None)
                    else:
                        self._settle(task, result, error, reason, None)
                except asyncio.CancelledError:
                    raise
                except Exception:  # never let one task kill a worker
                    logger.exception("worker %d: unexpected error running task %s", index, task.id)
        except asyncio.CancelledError:
            pass
        finally:
            if self._workers.get(index) is me:  # a retired worker's index may be reused
                parked.discard(index)

    async def _run(self, task: Task, timeout: float | None) -> tuple[Any, BaseException | None]:
        """One attempt of ``task`` (which must be QUEUED), then its outcome."""
        result, error, reason = await self.run_attempt(task, timeout)
        self._settle(task, result, error, reason, timeout)
        return result, public_error(task, error, reason, timeout if timeout is not None else self.timeout)

    async def run_attempt(
        self, task: Task, timeout: float | None, owner: asyncio.Task[Any] | None = None
    ) -> tuple[Any, BaseException | None, Interrupt | None]:
        """Run one attempt in the current asyncio task; returns (result, error, interrupt).

        The caller settles the outcome (finish, retry); the attempt's own
        bookkeeping (running gauge, span, deadline) is done here.
        """
        now = self._clock.now()
        task.transition(_RUNNING, now)
        deadline = now + (timeout if timeout is not None else self.timeout)
        ctx = TaskContext(task.id, task.attempts, deadline, task.name)
        attempt = Attempt(ctx, owner if owner is not None else asyncio.current_task(), deadline)
        self._running[task] = attempt
        on_start = self._hooks.on_start
        if on_start is not None:
            call_hook("on_start", on_start, task)
        span = start_span(self._tracer, task) if self._tracer is not None else None
        self._deadlines.add(attempt)
        fn = task.execute
        assert fn is not None
        result: Any = None
        error: BaseException | None = None
        try:
            if is_async_function(fn):
                result = await fn(ctx)
            else:
                result = await call_sync_function(fn, ctx, attempt, self._sync_runner())
        except asyncio.CancelledError as exc:
            if attempt.cancels:
                attempt.settle_cancels()
                error = exc
            elif attempt.owner is not None and attempt.owner.cancelling():
                # Cancelled from outside (e.g. the caller of execute_task): finish, then propagate.
                self._end_attempt(task, attempt, span, exc)
                self._finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
                raise
            else:
                error = exc  # the function itself raised CancelledError
        except Exception as exc:
            error = exc
        if attempt.cancels:
            attempt.settle_cancels()
        self._end_attempt(task, attempt, span, error)
        return result, error, attempt.reason

    def _end_attempt(self, task: Task, attempt: Attempt, span: Any, error: BaseException | None) -> None:
        """The attempt is over: it leaves the running map (the gauge) and its span ends."""
        del self._running[task]
        if span is not None:
            end_span(span, error)

    def _sync_runner(self) -> SyncRunner:
        if self._sync is None:
            self._sync = SyncRunner(self._sync_workers, asyncio.get_running_loop())
        return self._sync

    def _settle(
        self,
        task: Task,
        result: Any,
        error: BaseException | None,
        reason: Interrupt | None,
        timeout: float | None,
    ) -> None:
        status = classify(error, reason)
        if status is TaskStatus.COMPLETED:
            self._finish(task, status, result, None)
            return
        public = public_error(task, error, reason, timeout if timeout is not None else self.timeout)
        if status is TaskStatus.CANCELLED:
            self._finish(task, status, result, public)
            return
        if not self._stopped and task.attempts <= task.retries and task.status is _RUNNING:
            self._schedule_retry(task, task.attempts)
            return
        self._finish(task, status, None, public)

    def _schedule_retry(self, task: Task, attempt: int) -> None:
        delay = retry_delay(task.retry_delay, attempt, task.id)
        task.transition(TaskStatus.WAITING_RETRY, self._clock.now())
        self._counters.retried += 1
        if self._hooks.on_retry is not None:
            call_hook("on_retry", self._hooks.on_retry, task, delay, attempt)
        self._backoff[task] = self._clock.call_later(delay, lambda: self._requeue(task))

    def _requeue(self, task: Task) -> None:
        self._backoff.pop(task, None)
        if task.status is not TaskStatus.WAITING_RETRY:
            return
        if not self._queue.has_capacity:
            self._finish(task, TaskStatus.FAILED, None, QueueFullError(max_tasks=self.max_tasks))
            return
        task.transition(_QUEUED, self._clock.now())
        self._queue.push(task)

    # -- finishing ---------------------------------------------------------------

    def track_pending(self, delta: int) -> None:
        """Count tasks that ``wait`` waits for (the durable runner adds its leases)."""
        before = self._pending
        self._pending = before + delta
        idle = self._idle
        if idle is None:
            return
        if self._pending == 0:
            idle.set()
        elif before == 0:
            idle.clear()

    def _finish(self, task: Task, status: TaskStatus, result: Any, error: BaseException | None) -> bool:
        """The terminal transition: exactly once per task; False if already terminal.

        Everything that ``wait`` promises (counters, latency, on_finish,
        publication) happens before the pending count drops.
        """
        now = self._clock.now()
        if not task.finish(status, now, result, error):
            return False
        counters = self._counters
        if status is TaskStatus.COMPLETED:
            counters.completed += 1
        elif status is TaskStatus.CANCELLED:
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
            if self._meter is not None:
                self._meter.record_latency(latency)
        on_finish = self._hooks.on_finish
        if on_finish is not None:
            call_hook("on_finish", on_finish, task, status, result, error)
        if self._results.subscribers:
            self._results.publish(Result(task, result, error))
        self._pending -= 1
        if self._pending == 0 and self._idle is not None:
            self._idle.set()
        if self._pruner.policy is not None:
            self._pruner.finished(task, now)
        return True

    # -- cancellation ------------------------------------------------------------

    async def cancel_task(self, task_id: uuid.UUID | str) -> None:
        """Cancel a waiting, delayed, backing-off or running task.

        Waiting ones finish Cancelled at once; a running coroutine is cancelled
        and a running sync function sees ``ctx.cancelled``. Terminal: no-op.

        Raises:
            TaskNotFoundError: unknown id.
        """
        task = self._lookup(task_id)
        if self._durable is not None and task.status is TaskStatus.UNKNOWN:
            await self._durable.cancel_unstarted(task)  # leased, waiting for a worker
            return
        self._cancel(task)

    def _cancel(self, task: Task) -> None:
        status = task.status
        if status is _QUEUED:
            self._queue.remove(task)
            self._finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
        elif status is TaskStatus.WAITING_RETRY:
            timer = self._backoff.pop(task, None)
            if timer is not None:
                timer.cancel()
            self._finish(task, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
        elif status is _RUNNING:
            attempt = self._running.get(task)
            if attempt is not None:
                if self._abandon_threads:
                    attempt.abandon()
                else:
                    attempt.interrupt(Interrupt.CANCEL)

    def cancel_all(self) -> None:
        """Cancel every registered task."""
        for task in list(self._tasks.values()):
            self._cancel(task)

    # -- results, hooks, telemetry, retention -------------------------------------

    def subscribe_results(self, buffer: int = 10) -> ResultStream:
        """A stream of terminal results from now on (buffer <= 0 means 1)."""
        return self._results.subscribe(buffer)

    def get_results(self) -> ResultStream:
        """Compatibility shim: a stream with buffer 10, ended when the manager stops."""
        return self._results.subscribe(10)

    def set_results_drop_policy(self, policy: DropPolicy | int) -> None:
        self._results.set_policy(policy)

    def _count_drops(self, count: int) -> None:
        self._counters.results_dropped += count

    def set_hooks(self, hooks: TaskHooks | None) -> None:
        """Replace the whole hook set."""
        self._hooks = hooks or TaskHooks()

    def set_tracer(self, tracer: Tracer | None) -> None:
        """One span per attempt; None disables tracing."""
        self._tracer = tracer

    def set_meter(self, meter: Meter | None) -> None:
        """Install a Meter (replacing and closing the previous one); None disables."""
        if self._meter is not None:
            close_meter(self._meter)
        self._meter = meter
        if meter is not None:
            meter.observe(self.get_metrics)

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
                reason="no meter factory: build the manager with pyworker.entrypoints.container.new_task_manager()"
            )
        self.set_meter(self._meter_factory(provider, name, version))

    def set_retention_policy(self, policy: RetentionPolicy) -> None:
        """Bound the registry of finished tasks; prunes once now (SPEC B.10)."""
        self._pruner.set_policy(policy, self._clock.now())
        self._ensure_retention_loop()

    def _ensure_retention_loop(self) -> None:
        policy = self._pruner.policy
        if policy is None or policy.ttl <= 0 or self._retention_task is not None:
            return
        if not self._started or self._stopped:
            return
        self._retention_task = asyncio.get_running_loop().create_task(
            self._retention_loop(), name="pyworker-retention"
        )

    async def _retention_loop(self) -> None:
        while not self._stopped:
            policy = self._pruner.policy
            await self._clock.sleep(policy.interval if policy is not None else 60.0)
            self._pruner.prune(self._clock.now())
