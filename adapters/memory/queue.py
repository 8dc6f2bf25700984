"""The worker side of the in-memory durable store: the DurableQueue port (adapters/memory/durable.py)."""

from __future__ import annotations

import asyncio
import heapq
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence

from pyworker.adapters.memory.store import MemoryStore
from pyworker.domain.durable import (
    DurableLease,
    DurableState,
    DurableTask,
    effective_lease,
    failure_text,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import (
    DurableCancelRequestedError,
    DurableLeaseNotFoundError,
    DurablePayloadError,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)
from pyworker.domain.scheduling import (
    normalize_queue,
    normalize_queue_weights,
)
from pyworker.domain.settled import (
    DEFAULT_CANCEL_REASON,
    CancelOutcome,
    cancel_text,
)
from pyworker.domain.status import TaskStatus


class _CancelSubscription:
    """One ``subscribe_cancellations`` callback, until closed."""

    def __init__(self, callbacks: list[Callable[[uuid.UUID, str], None]], callback: Callable[[uuid.UUID, str], None]):
        self._callbacks = callbacks
        self._callback = callback
        callbacks.append(callback)

    async def close(self) -> None:
        if self._callback in self._callbacks:
            self._callbacks.remove(self._callback)


class MemoryQueueSide(MemoryStore):
    """Enqueue, lease, settle, cancel, wait: what a worker node calls."""

    # -- writes ---------------------------------------------------------------------------

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        return self._enqueue(task, self._now_ms())

    async def enqueue_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID | BaseException]:
        now_ms = self._now_ms()
        results: list[uuid.UUID | BaseException] = []
        for task in tasks:
            try:
                results.append(self._enqueue(task, now_ms))
            except (DurableTaskExistsError, InvalidTaskError, DurablePayloadError) as exc:
                results.append(exc)
        return results

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        now_ms = self._now_ms()
        lease_ms = to_ms(effective_lease(lease))
        for queue in self._rr.names:
            self._promote(queue, now_ms)
            self._reclaim(queue, now_ms)
        if self._paused:
            return []
        wanted = max(limit, 1)
        bucket, self._limit_due_ms = self._refilled_bucket(now_ms), None
        if bucket is not None:
            wanted = min(wanted, bucket.available)
        room = {q: cap - len(self._processing.get(q, ())) for q, cap in self.limits.queue_concurrency.items()}
        has_work = self._has_work if self._only is None else self._has_work_here
        if room:
            base = has_work

            def has_work(queue: str) -> bool:
                return room.get(queue, 1) > 0 and base(queue)

        leases: list[DurableLease] = []
        token_base = secrets.token_hex(8)
        while len(leases) < wanted:
            picked = self._rr.pick(has_work)
            if picked is None:
                break
            if picked in room:
                room[picked] -= 1
            _, _, _, task_id = heapq.heappop(self._ready[picked])
            entry = self._tasks[task_id]
            entry.state = DurableState.PROCESSING
            entry.attempts += 1
            entry.token = f"{token_base}:{len(leases) + 1}"
            entry.lease_ms = now_ms + lease_ms
            entry.updated_at_ms = now_ms
            self._processing[picked].add(task_id)
            heapq.heappush(self._expiries[picked], (entry.lease_ms, entry.token, task_id))
            leases.append(
                DurableLease(entry.task, entry.token, entry.attempts, entry.task.retries, entry.lease_ms / 1000)
            )
        if bucket is not None:
            self._bucket = bucket = bucket.take(len(leases))
            if len(leases) == wanted < max(limit, 1):  # the bucket stopped this call: look again at its next token
                self._limit_due_ms = bucket.next_token_ms()
        return leases

    async def ack(self, lease: DurableLease, output: str = "") -> None:
        self._ack(lease, output)

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for index, lease in enumerate(leases):
            try:
                self._ack(lease, outputs[index] if outputs is not None else "")
                results.append(None)
            except DurableLeaseNotFoundError as exc:
                results.append(exc)
        return results

    async def nack(self, lease: DurableLease, delay: float) -> None:
        entry = self._leased(lease)
        now_ms = self._now_ms()
        self._end_lease(entry)
        if entry.cancel_requested:  # a retry of a task whose cancellation was requested: it ends here
            self._dead_letter(entry, cancel_text(entry.cancel_requested), now_ms, cancelled=True)
            return
        entry.seq = next(self._seq)  # a retry queues behind tasks already waiting at its priority
        entry.updated_at_ms = now_ms
        self._make_waiting(entry, now_ms + max(to_ms(delay), 0), now_ms)

    async def fail(
        self, lease: DurableLease, error: str | BaseException, *, status: TaskStatus = TaskStatus.FAILED
    ) -> None:
        entry = self._leased(lease)
        now_ms = self._now_ms()
        self._end_lease(entry)
        self._dead_letter(entry, failure_text(error), now_ms, cancelled=status is TaskStatus.CANCELLED, status=status)

    async def cancel(self, task_id: uuid.UUID, reason: str) -> CancelOutcome:
        entry = self._tasks.get(task_id)
        if entry is None:
            raise TaskNotFoundError(task_id=task_id)
        reason = reason or DEFAULT_CANCEL_REASON
        now_ms = self._now_ms()
        if entry.state in (DurableState.READY, DurableState.DELAYED):
            self._detach(entry)
            entry.cancel_requested = reason
            self._dead_letter(entry, cancel_text(reason), now_ms, cancelled=True)
            return CancelOutcome.WITHDRAWN
        if entry.state is not DurableState.PROCESSING:
            return CancelOutcome.ALREADY_DONE
        entry.cancel_requested = reason
        entry.updated_at_ms = now_ms
        loop = asyncio.get_running_loop()
        for callback in list(self._cancel_callbacks):  # as a published message: soon, not inside this call
            loop.call_soon(callback, task_id, reason)
        return CancelOutcome.FLAGGED

    async def subscribe_cancellations(self, callback: Callable[[uuid.UUID, str], None]) -> _CancelSubscription:
        return _CancelSubscription(self._cancel_callbacks, callback)

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        renewed = self._extend(lease, self._now_ms(), to_ms(effective_lease(duration)))
        self._check_cancel(lease)
        return renewed

    async def extend_many(
        self, leases: Sequence[DurableLease], duration: float
    ) -> list[DurableLease | BaseException]:
        now_ms, duration_ms = self._now_ms(), to_ms(effective_lease(duration))
        results: list[DurableLease | BaseException] = []
        for lease in leases:
            try:
                renewed = self._extend(lease, now_ms, duration_ms)
                self._check_cancel(lease)
                results.append(renewed)
            except (DurableLeaseNotFoundError, DurableCancelRequestedError) as exc:
                results.append(exc)
        return results

    async def release(self, leases: Sequence[DurableLease]) -> None:
        now_ms = self._now_ms()
        for lease in leases:
            try:
                entry = self._leased(lease)
            except DurableLeaseNotFoundError:
                continue
            self._end_lease(entry)
            entry.attempts = max(entry.attempts - 1, 0)
            entry.updated_at_ms = now_ms
            self._make_waiting(entry, now_ms, now_ms)  # keeps its seq: back in its old place

    async def configure_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        self._default_queue = normalize_queue(default_queue)
        self._configured_weights = normalize_queue_weights(weights)
        self._rr.weights = {**self._configured_weights, **self._stored_weights}
        self._rr.add(self._default_queue)
        self._only = {normalize_queue(q, self._default_queue) for q in queues} if queues else None

    async def configure_results(self, ttl: float, max_len: int, node_id: str) -> None:
        self._results.configure(ttl, max_len, node_id)

    async def pause(self, queue: str | None = None) -> None:
        if queue is None:
            self._paused = True
        else:
            self._paused_queues.add(normalize_queue(queue, self._default_queue))

    async def resume(self, queue: str | None = None) -> None:
        if queue is None:
            self._paused = False
        else:
            self._paused_queues.discard(normalize_queue(queue, self._default_queue))
        self._notify()

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        await self.wait_for_work(max_wait)
        return await self.dequeue(limit, lease)

    async def wait_for_work(self, max_wait: float) -> None:
        if self._signalled:
            self._signalled = False
            return
        timeout = max_wait
        due_ms = self._next_due_ms()
        if due_ms is not None:
            # From the unrounded clock: a ManualClock set exactly to the due time wakes.
            timeout = min(timeout, due_ms / 1000 - self._clock.now())
        if timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self._clock.call_later(timeout, wake)
        self._waiters.add(future)
        try:
            await future
        finally:
            timer.cancel()
            self._waiters.discard(future)
            self._signalled = False

    async def ping(self) -> None:
        """Always answers: the store is this object."""

    async def close(self) -> None:
        self._notify()

