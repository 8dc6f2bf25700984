"""Durable mode: fetch leases from a DurableBackend, run them, ack / nack / fail them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pyworker.application.attempt import Interrupt, is_async_function
from pyworker.application.hooks import call_hook
from pyworker.application.outcome import classify, public_error
from pyworker.application.ports import DurableBackend, DurableCodec
from pyworker.application.registry import DurableHandlerSpec, TypedDurableRegistry, handler_map
from pyworker.domain import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    BackendUnavailableError,
    CodecError,
    DurableHandlerNotRegisteredError,
    DurableLease,
    DurableLeaseNotFoundError,
    DurablePayloadError,
    DurableTask,
    InvalidTaskError,
    Task,
    TaskCancelledError,
    TaskStatus,
    normalize_queue,
    retry_delay,
)

if TYPE_CHECKING:
    from pyworker.application.task_manager import TaskManager

logger = logging.getLogger("pyworker.durable")


class DurableRunner:
    """The durable half of a TaskManager (SPEC B.15 with the Part A changes).

    A fetch loop leases up to ``batch_size`` tasks whenever workers are free,
    waking on enqueue through ``backend.wait_for_work`` (polling only as a
    fallback). Durable workers run each lease through the manager's attempt
    machinery (hooks, tracer, timeout, cancellation). Acks are batched: a
    flusher acks everything finished since its last round trip, then
    publishes those results, so a published result is always acked.
    """

    def __init__(
        self,
        manager: TaskManager,
        *,
        backend: DurableBackend,
        handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None,
        codec: DurableCodec | None,
        lease: float,
        poll_interval: float,
        batch_size: int,
        renewal_interval: float,
        queues: Sequence[str] | None = None,
        prefetch: int = 0,
        close_backend: bool = False,
    ) -> None:
        self._manager = manager
        self.backend = backend
        self.handlers: dict[str, DurableHandlerSpec] = handler_map(handlers)
        self._codec = codec
        self.lease = lease if lease > 0 else 30.0
        self.poll_interval = poll_interval if poll_interval > 0 else 0.2
        self.batch_size = batch_size if batch_size > 0 else 1
        renewal = renewal_interval if renewal_interval > 0 else 0.0
        self.renewal_interval = self.lease / 2 if renewal >= self.lease else renewal
        self._ready: deque[tuple[Task, DurableLease]] = deque()
        self._leases: dict[Task, DurableLease] = {}  # every lease held: ready or running
        self._idle_workers: deque[asyncio.Future[None]] = deque()  # one is woken per ready lease
        self._slot_event: asyncio.Event | None = None
        self._acks: list[tuple[Task, DurableLease, Any]] = []
        self._ack_event: asyncio.Event | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._fetching = False
        self._closed = False
        self._close_backend = close_backend
        self.queues = [normalize_queue(q) for q in queues] if queues else None
        self.prefetch = max(prefetch, 0)
        self._dequeue: asyncio.Future[list[DurableLease]] | None = None
        self._dequeue_waits = False  # the call in flight is an idle wait (nothing granted while it blocks)

    @property
    def codec(self) -> DurableCodec:
        if self._codec is None:
            raise DurablePayloadError(reason="no durable codec configured")
        return self._codec

    # -- registration ----------------------------------------------------------

    def prepare(self, task: DurableTask, run_at: float | None = None) -> DurableTask:
        """Validate and normalise a durable task for the backend (SPEC B.15.2).

        Raises:
            InvalidTaskError, DurableHandlerNotRegisteredError, DurablePayloadError.
        """
        if not isinstance(task, DurableTask):
            raise InvalidTaskError(reason="durable task is nil" if task is None else "not a DurableTask")
        handler = task.handler.strip() if isinstance(task.handler, str) else ""
        if not handler:
            raise InvalidTaskError(reason="durable task handler is required")
        spec = self.handlers.get(handler)
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
        manager = self._manager
        return attrs.evolve(
            task,
            handler=handler,
            id=task.id if task.id is not None and task.id.int != 0 else uuid.uuid4(),
            payload=payload,
            run_at=run_at if run_at is not None else task.run_at,
            queue=normalize_queue(task.queue, manager.default_queue),
            weight=task.weight if task.weight > 0 else 1,
            retries=min(max(task.retries, 0), manager.max_retries),
            retry_delay=task.retry_delay if task.retry_delay > 0 else manager.retry_delay,
        )

    async def register(self, task: DurableTask, run_at: float | None = None) -> uuid.UUID:
        return await self.backend.enqueue(self.prepare(task, run_at))

    async def register_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID]:
        """Enqueue the valid tasks in one round trip; raise ExceptionGroup if any failed."""
        errors: list[Exception] = []
        prepared: list[DurableTask] = []
        for task in tasks:
            try:
                prepared.append(self.prepare(task))
            except Exception as exc:  # every bad task is reported; the good ones still go
                errors.append(exc)
        ids: list[uuid.UUID] = []
        if prepared:
            for outcome in await self.backend.enqueue_many(prepared):
                if isinstance(outcome, uuid.UUID):
                    ids.append(outcome)
                elif isinstance(outcome, Exception):
                    errors.append(outcome)
        if errors:
            raise ExceptionGroup(f"{len(errors)} durable task(s) failed to register", errors)
        return ids

    # -- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        if self._fetching or self._closed:
            return
        self._fetching = True
        self._slot_event = asyncio.Event()
        self._ack_event = asyncio.Event()
        await self.backend.configure_queues(self._manager.default_queue, self._manager.queue_weights, self.queues)
        loop = asyncio.get_running_loop()
        self._loops.append(loop.create_task(self._fetch_loop(), name="pyworker-durable-fetch"))
        self._loops.append(loop.create_task(self._ack_loop(), name="pyworker-durable-acks"))
        if self.renewal_interval > 0:
            self._loops.append(loop.create_task(self._renew_loop(), name="pyworker-durable-renew"))
        self.resize()

    def resize(self) -> None:
        """Run as many durable workers as the manager's max_workers (extra ones exit when idle)."""
        if not self._fetching:
            return
        loop = asyncio.get_running_loop()
        for index in range(self._manager.max_workers):
            worker = self._workers.get(index)
            if worker is None or worker.done():
                self._workers[index] = loop.create_task(self._worker(index), name=f"pyworker-durable-worker-{index}")
        self._wake_workers(all_of_them=True)  # idle workers above the new count notice and exit
        if self._slot_event is not None:
            self._slot_event.set()

    async def stop_fetching(self) -> None:
        """Stop leasing new tasks and hand back the ones not started yet."""
        if not self._fetching:
            return
        self._fetching = False
        for loop_task in self._loops[:1]:
            loop_task.cancel()
        await asyncio.gather(*self._loops[:1], return_exceptions=True)
        if self._dequeue is not None:
            if self._dequeue_waits and not self._dequeue.done():
                # Still blocked waiting for work (up to the poll interval): stop waiting. On
                # Redis, dropping the wake connection makes the server discard the dequeue.
                self._dequeue.cancel()
            # A dequeue that already ran may have granted leases: take them, then hand back.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                for lease in await self._dequeue:
                    await self._accept(lease)
            self._dequeue = None
        unstarted = list(self._ready)
        self._ready.clear()
        for task, _ in unstarted:
            self._forget(task)
        if unstarted:
            try:
                await self.backend.release([lease for _, lease in unstarted])
            except Exception:
                logger.exception("could not hand back %d unstarted lease(s); they return at expiry", len(unstarted))
        self._wake_workers(all_of_them=True)  # let idle durable workers see that fetching stopped

    async def close(self) -> None:
        """Stop every loop after the last acks are flushed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self.stop_fetching()
        # Workers exit once nothing is ready; running attempts were already
        # interrupted by the manager, and their ack / nack / fail must still go out.
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        await self._flush_acks()
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._close_backend:
            await self.backend.close()

    async def cancel_unstarted(self, task: Task) -> None:
        """cancel_task of a task this node leased but has not started: dead-letter it."""
        lease = self._leases.get(task)
        if lease is None or task.status is not TaskStatus.UNKNOWN:
            return
        with contextlib.suppress(ValueError):
            self._ready.remove((task, lease))
        await self._backend_call("fail", self.backend.fail(lease, "task cancelled"))
        self._finish(task, lease, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))

    def _forget(self, task: Task) -> None:
        """Drop a lease this node no longer works on (not a terminal finish)."""
        if self._leases.pop(task, None) is not None:
            manager = self._manager
            if manager._tasks.get(task.id.int) is task:
                del manager._tasks[task.id.int]
            manager.track_pending(-1)
            if self._slot_event is not None:
                self._slot_event.set()

    # -- fetching --------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        assert self._slot_event is not None
        manager = self._manager
        idle = False
        while self._fetching:
            free = manager.max_workers + self.prefetch - len(self._leases)
            if free <= 0:
                self._slot_event.clear()
                await self._slot_event.wait()
                continue
            asked = min(self.batch_size, free)
            # Idle (the last call drained the queues): wait for work and lease it in one
            # call. Shielded: a stop that lands mid-call must still receive what was granted.
            call = (
                self.backend.wait_and_dequeue(asked, self.lease, self.poll_interval)
                if idle
                else self.backend.dequeue(asked, self.lease)
            )
            self._dequeue = asyncio.ensure_future(call)
            self._dequeue_waits = idle
            try:
                leases = await asyncio.shield(self._dequeue)
                self._dequeue = None
            except Exception as exc:  # the fetch loop must outlive any backend failure
                self._dequeue = None
                if not isinstance(exc, BackendUnavailableError):
                    logger.exception("durable dequeue failed unexpectedly")
                logger.warning("durable dequeue failed (%s); retrying in %.3fs", exc, self.poll_interval)
                await manager.clock.sleep(self.poll_interval)
                continue
            for lease in leases:
                await self._accept(lease)
            # Fewer than asked: the queues are drained, so the next call waits for an
            # enqueue's wake-up instead of asking again at once (a second script would
            # only queue up ahead of the handlers' own Redis calls and delay them).
            idle = len(leases) < asked

    async def _accept(self, lease: DurableLease) -> None:
        try:
            task = self._build_task(lease)
        except Exception as exc:  # poison message: to the DLQ with the reason, never a crash loop
            logger.warning("durable task %s cannot run: %s", lease.task.id, exc)
            await self._backend_call("fail", self.backend.fail(lease, str(exc)))
            return
        manager = self._manager
        manager._tasks[task.id.int] = task  # replaces an earlier delivery of the same id
        manager.track_pending(1)
        self._leases[task] = lease
        self._ready.append((task, lease))
        self._wake_workers()

    def _wake_workers(self, all_of_them: bool = False) -> None:
        """Wake one idle durable worker (not all of them: no thundering herd per lease)."""
        waiters = self._idle_workers
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_of_them:
                    return

    def _build_task(self, lease: DurableLease) -> Task:
        durable = lease.task
        if durable.id is None:
            raise DurablePayloadError(reason="durable task missing id")
        spec = self.handlers.get(durable.handler)
        if spec is None:
            raise DurableHandlerNotRegisteredError(handler=durable.handler)
        if durable.payload is None:
            raise DurablePayloadError(reason="durable task payload is missing")
        try:
            message = self.codec.decode(durable.payload, spec.make)
        except CodecError as exc:
            raise DurablePayloadError(reason=f"unmarshal durable payload: {exc}") from exc
        manager = self._manager
        task = Task(
            execute=_bind(spec, message),
            priority=durable.priority,
            queue=normalize_queue(durable.queue, manager.default_queue),
            weight=durable.weight if durable.weight > 0 else 1,
            retries=lease.max_retries,
            retry_delay=durable.retry_delay if durable.retry_delay > 0 else manager.retry_delay,
            name=durable.name or durable.handler,
            id=durable.id,
        )
        # ctx.attempt counts deliveries across nodes: this run is attempt lease.attempts.
        task.restore_attempts(lease.attempts - 1)
        return task

    # -- running ---------------------------------------------------------------

    async def _worker(self, index: int) -> None:
        me = asyncio.current_task()
        ready = self._ready
        loop = asyncio.get_running_loop()
        while True:
            if index >= self._manager.max_workers and self._workers.get(index) is me:
                del self._workers[index]
                self._wake_workers()  # pass on a wake-up this worker may have taken
                return
            if not ready:
                if not self._fetching:
                    return
                waiter: asyncio.Future[None] = loop.create_future()
                self._idle_workers.append(waiter)
                try:
                    await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled():
                        self._wake_workers()  # pass the wake-up on
                    raise
                continue
            task, lease = ready.popleft()
            try:
                await self._run(task, lease, me)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("durable worker: unexpected error running task %s", task.id)

    async def _run(self, task: Task, lease: DurableLease, owner: asyncio.Task[Any] | None) -> None:
        manager = self._manager
        if task.status is not TaskStatus.UNKNOWN:
            await self._backend_call("fail", self.backend.fail(lease, "task already started"))
            self._forget(task)
            return
        result, error, reason = await manager.run_attempt(task, None, owner)
        if error is None:
            self._acks.append((task, lease, result))
            assert self._ack_event is not None
            self._ack_event.set()
            return
        status = classify(error, reason)
        if status is TaskStatus.CANCELLED:
            if manager._stopped:
                # Interrupted by a hard stop, not by the task: another node runs it now.
                await self._backend_call("nack", self.backend.nack(lease, 0.0))
                self._finish(task, lease, TaskStatus.CANCELLED, None, TaskCancelledError(task_id=task.id))
                return
            await self._backend_call("fail", self.backend.fail(lease, "task cancelled"))
            self._finish(task, lease, status, result, TaskCancelledError(task_id=task.id))
            return
        public = public_error(task, error, reason, manager.timeout)
        if lease.max_retries >= 0 and lease.attempts <= lease.max_retries and not manager._stopped:
            delay = retry_delay(task.retry_delay, max(lease.attempts, 1), task.id)
            manager._counters.retried += 1
            task.transition(TaskStatus.WAITING_RETRY, manager.clock.now())
            on_retry = manager._hooks.on_retry
            if on_retry is not None:
                call_hook("on_retry", on_retry, task, delay, lease.attempts)
            await self._backend_call("nack", self.backend.nack(lease, delay))
            self._forget(task)
            return
        await self._backend_call("fail", self.backend.fail(lease, _error_text(public)))
        self._finish(task, lease, status, None, public)

    def _finish(
        self, task: Task, lease: DurableLease, status: TaskStatus, result: Any, error: BaseException | None
    ) -> None:
        self._leases.pop(task, None)
        self._manager._finish(task, status, result, error)
        if self._slot_event is not None:
            self._slot_event.set()

    async def _ack_loop(self) -> None:
        assert self._ack_event is not None
        while True:
            await self._ack_event.wait()
            self._ack_event.clear()
            await self._flush_acks()

    async def _flush_acks(self) -> None:
        clock = self._manager.clock
        while self._acks:
            batch, self._acks = self._acks, []
            try:
                outcomes: Sequence[BaseException | None] = await self.backend.ack_many([lease for _, lease, _ in batch])
            except BackendUnavailableError as exc:
                # Redis is away: keep acking while the leases last, rather than letting
                # finished work expire and run again elsewhere; give up on the rest.
                deadline = clock.now() + self.poll_interval
                retry: list[tuple[Task, DurableLease, Any]] = []
                given_up: list[tuple[Task, DurableLease, Any]] = []
                for item in batch:  # one pass: never compare results (user objects) for equality
                    (retry if not self._closed and item[1].expires_at > deadline else given_up).append(item)
                self._finish_acked(given_up, [exc] * len(given_up))
                if retry:
                    logger.warning("durable ack of %d task(s) failed (%s); retrying", len(retry), exc)
                    self._acks = retry + self._acks
                    await clock.sleep(self.poll_interval)
                continue
            except Exception as exc:  # unexpected: the leases expire and the tasks run again
                logger.warning("durable ack of %d task(s) failed: %s", len(batch), exc)
                outcomes = [exc] * len(batch)
            self._finish_acked(batch, outcomes)

    def _finish_acked(
        self, batch: list[tuple[Task, DurableLease, Any]], outcomes: Sequence[BaseException | None]
    ) -> None:
        for (task, lease, result), outcome in zip(batch, outcomes, strict=True):
            if outcome is not None:
                logger.warning("task %s finished but its ack failed (%s); it may run again", task.id, outcome)
            self._finish(task, lease, TaskStatus.COMPLETED, result, None)

    async def _renew_loop(self) -> None:
        clock = self._manager.clock
        while True:
            await clock.sleep(self.renewal_interval)
            running = [(task, lease) for task, lease in self._leases.items() if task.status is TaskStatus.RUNNING]
            for task, lease in running:
                try:
                    renewed = await self.backend.extend(lease, self.lease)
                except DurableLeaseNotFoundError:
                    continue  # lost: renewal stops for this lease
                except Exception as exc:
                    logger.warning("lease renewal for %s failed: %s", task.id, exc)
                    continue
                if self._leases.get(task) is lease:
                    self._leases[task] = renewed
                    _replace_ready_lease(self._ready, task, renewed)

    async def _backend_call(self, what: str, call: Any) -> None:
        try:
            await call
        except Exception as exc:  # swallowed as go-worker does; the lease expires and the task returns
            logger.warning("durable %s failed: %s", what, exc)

def _replace_ready_lease(ready: deque[tuple[Task, DurableLease]], task: Task, lease: DurableLease) -> None:
    for index, (queued, _) in enumerate(ready):
        if queued is task:
            ready[index] = (task, lease)
            return


def _error_text(error: BaseException | None) -> str:
    return "" if error is None else str(error) or type(error).__name__


def _bind(spec: DurableHandlerSpec, message: Any) -> Any:
    """The task function for one delivery: the handler applied to its message."""
    return (_AsyncCall if is_async_function(spec.fn) else _SyncCall)(spec.fn, message)


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


__all__ = ["DurableRunner", "Interrupt"]
