"""The DurableQueue port: what a worker node needs from a durable store (re-exported by ``ports``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from pyworker.domain import CancelOutcome, DurableLease, DurableTask, TaskStatus


@runtime_checkable
class CancelSubscription(Protocol):
    """A node's subscription to cancel requests (``DurableQueue.subscribe_cancellations``)."""

    async def close(self) -> None:
        """Stop listening. Idempotent."""
        ...


@runtime_checkable
class DurableQueue(Protocol):
    """What a worker node needs from a durable, at-least-once task store shared by
    many nodes: put tasks in, lease them, settle the leases.

    Every state change is atomic. Leases are fenced: each dequeue issues a fresh
    token, and ack / nack / fail / extend with a token that is not the current
    one raise ``DurableLeaseNotFoundError`` and change nothing. An expired
    lease is reclaimed by a later dequeue and the task delivered again (its
    attempt count keeps the crashed attempt). Technology errors (unreachable
    store, protocol errors, refused commands) surface as
    ``BackendUnavailableError``; nothing is half-written.

    Ordering within a queue is exact: lower priority number first, then higher
    weight, then FIFO by enqueue order. Between queues, weighted round robin.
    """

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        """Store a task (``task.id`` and ``task.payload`` are set by the caller).

        A task whose ``run_at`` is in the future waits until then. When
        ``idempotency_key`` is set and already used, nothing is stored and the
        existing task's id is returned.

        Raises:
            DurableTaskExistsError: the id is already stored.
            InvalidTaskError, DurablePayloadError: no id, handler or payload.
        """
        ...

    async def enqueue_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID | BaseException]:
        """Enqueue several tasks in one round trip; per task, its id or its error."""
        ...

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        """Lease up to ``limit`` due tasks for ``lease`` seconds (<= 0: DEFAULT_LEASE),
        queue weights honoured. Returns [] when nothing is due or dequeue is paused.
        """
        ...

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        """``wait_for_work(max_wait)`` then ``dequeue(limit, lease)``, in one round
        trip where the backend can (an idle node's pickup path). Returns [] when
        nothing came. A lease granted this way may be up to ``max_wait`` shorter.
        """
        ...

    async def wait_for_work(self, max_wait: float) -> None:
        """Return when work may be available: an enqueue (from any node), a
        delayed task coming due, or ``max_wait`` seconds elapsed. May return early;
        never raises.
        """
        ...

    async def ack(self, lease: DurableLease, output: str = "") -> None:
        """The task succeeded: forget it, and record its outcome (``output``: the result's
        text) in the same step when results are on. Raises DurableLeaseNotFoundError.
        """
        ...

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> list[BaseException | None]:
        """Ack several leases in one round trip (``outputs``: one per lease, or None for
        ""); per lease, None or its error. A stale lease records nothing.
        """
        ...

    async def nack(self, lease: DurableLease, delay: float) -> None:
        """Retry the task after ``delay`` seconds. Raises DurableLeaseNotFoundError."""
        ...

    async def fail(
        self, lease: DurableLease, error: str | BaseException, *, status: TaskStatus = TaskStatus.FAILED
    ) -> None:
        """Move the task to the dead-letter queue with the error text and the time.

        An exception is stored as its text (``domain.durable.failure_text``). The
        token is checked before anything else. ``status`` CANCELLED marks the dead
        task cancelled (its record's ``cancelled_at``; docs/cluster.md#cancellation).
        With results on, the outcome is recorded as ``status`` in the same step.

        Raises:
            DurableLeaseNotFoundError: the lease is gone or stale.
        """
        ...

    async def cancel(self, task_id: uuid.UUID, reason: str) -> CancelOutcome:
        """Cancel a stored task from any node (docs/cluster.md#cancellation), atomically.

        Ready or delayed: it leaves its set and is dead-lettered as cancelled
        (``last_error`` ``cancel_text(reason)``), WITHDRAWN. Leased: it is flagged
        with ``reason`` and every subscriber (``subscribe_cancellations``) hears of it
        at once, FLAGGED; a nack of the flagged lease, or the reclaim of its expired
        lease, dead-letters it as cancelled instead of running it again. Dead or
        deleted: ALREADY_DONE. Cancelling twice is safe (a flagged task is told again).

        Raises:
            TaskNotFoundError: no task with this id is stored (never stored, or acked
                and forgotten).
        """
        ...

    async def subscribe_cancellations(self, callback: Callable[[uuid.UUID, str], None]) -> CancelSubscription:
        """Call ``callback(task_id, reason)`` on this event loop for every FLAGGED
        cancellation, from any node, until the subscription is closed.

        Returns once subscribed; while the store is away it keeps trying in the
        background and never raises (a request missed then is still honoured by
        nack, extend and reclaim).
        """
        ...

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        """Push the lease's expiry to now + ``duration`` (<= 0: DEFAULT_LEASE);
        returns the renewed lease.

        Raises:
            DurableLeaseNotFoundError: the lease is gone or stale.
        """
        ...

    async def extend_many(
        self, leases: Sequence[DurableLease], duration: float
    ) -> list[DurableLease | BaseException]:
        """``extend`` for several leases in one round trip; per lease, the renewed
        lease or its error: DurableLeaseNotFoundError, or DurableCancelRequestedError
        when the task is flagged cancelled (renewed anyway, so its holder can fail it).
        Raises BackendUnavailableError when the round trip itself fails.
        """
        ...

    async def release(self, leases: Sequence[DurableLease]) -> None:
        """Hand back leases whose task never started (graceful stop): they are
        ready again at once and the unstarted attempt is not counted. Stale
        leases are skipped silently.
        """
        ...

    async def configure_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        """Set the default queue and the inter-queue weights used by dequeue, and,
        when ``queues`` is given, limit this backend's dequeue to those queues
        (a worker node that serves only some queues). Enqueue is not limited.
        """
        ...

    async def configure_results(self, ttl: float, max_len: int, node_id: str) -> None:
        """Record every settled task's outcome (ack, fail, a cancellation) for ``ttl``
        seconds (0: none) and on the results stream (about ``max_len`` entries), as
        settled by ``node_id`` (docs/cluster.md#results).
        """
        ...

    async def ping(self) -> None:
        """Check that the store answers (a readiness probe).

        Raises:
            BackendUnavailableError: it cannot be reached, or what answers is not
                the store (a protocol error).
        """
        ...

    async def close(self) -> None:
        """Release what this queue opened (its own connections). Idempotent."""
        ...
