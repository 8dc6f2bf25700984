"""The ports: what the application needs from the outside world, as Protocols.

Adapters implement these structurally (they do not inherit); mypy checks
conformance where the container binds them, and the contract suites in
``tests/contract`` check behaviour against every adapter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pyworker.application.events import AttemptInfo
from pyworker.application.inspector import DurableInspector
from pyworker.domain import DurableLease, DurableTask, MetricsSnapshot, NodeInfo, TaskStatus

__all__ = [
    "Clock",
    "DurableBackend",
    "DurableCodec",
    "DurableInspector",
    "DurableQueue",
    "Meter",
    "MeterFactory",
    "NodeRegistry",
    "NodeRegistryProvider",
    "TaskSpan",
    "TimerHandle",
    "Tracer",
]


@runtime_checkable
class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled before it fires."""

    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Wall time and timers. Every time the manager reads or waits on goes through here,
    so tests can drive time by hand (``pyworker.adapters.clock.ManualClock``).
    """

    def now(self) -> float:
        """Current Unix time in seconds."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on the event loop after ``delay`` seconds."""
        ...

    async def sleep(self, delay: float) -> None:
        """Suspend the caller for ``delay`` seconds."""
        ...


@runtime_checkable
class TaskSpan(Protocol):
    """One attempt's span."""

    def end(self, error: BaseException | None) -> None:
        """Close the span with the attempt's raw error (None on success)."""
        ...


@runtime_checkable
class Tracer(Protocol):
    """Starts one span per attempt (in-memory and durable).

    It receives a frozen description of the attempt (``AttemptInfo``: id, name,
    queue, priority, weight, attempt number, metadata, correlation id), never the
    mutable Task.
    """

    def start(self, attempt: AttemptInfo) -> TaskSpan: ...


@runtime_checkable
class Meter(Protocol):
    """Exports the manager's metrics. ``observe`` is called once when the meter is
    installed, with a function that returns the current snapshot (observable
    counters read it on each collection); ``record_latency`` feeds the histogram.
    """

    def observe(self, snapshot: Callable[[], MetricsSnapshot]) -> None: ...

    def record_latency(self, seconds: float) -> None: ...

    def close(self) -> None:
        """Unregister callbacks; the meter is not used again."""
        ...


#: Builds a Meter from an OpenTelemetry MeterProvider (or anything an adapter accepts).
MeterFactory = Callable[[Any, str, str | None], Meter]


@runtime_checkable
class DurableCodec(Protocol):
    """Encodes handler messages to payload bytes and back. Never pickle."""

    def encode(self, message: Any) -> bytes:
        """Raises CodecError when the message cannot be encoded."""
        ...

    def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
        """Decode ``data`` into the message type that ``make()`` returns.

        Raises CodecError when the bytes are not a valid message of that type.
        """
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
        """Move the task to the dead-letter queue with the error text and the time, and
        record its outcome as ``status`` (FAILED, CANCELLED, ...) in the same step when
        results are on. An exception is stored as its text (``domain.durable.failure_text``).

        Raises:
            DurableLeaseNotFoundError: the lease is gone or stale.
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
        lease or its error (DurableLeaseNotFoundError). Raises BackendUnavailableError
        when the round trip itself fails.
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
        """Record every ack and fail's outcome for ``ttl`` seconds (0: none) and on the
        results stream (about ``max_len`` entries), as settled by ``node_id``.
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


@runtime_checkable
class DurableBackend(DurableQueue, DurableInspector, Protocol):
    """Both sides of one store in one object (what the in-memory and Redis backends
    are). Workers depend on ``DurableQueue`` and operators on ``DurableInspector``;
    this combination types an adapter that serves both.
    """


@runtime_checkable
class NodeRegistry(Protocol):
    """The live worker nodes of one durable store (docs/cluster.md#nodes).

    A node's record lives ``ttl`` seconds after its last heartbeat (times from the
    Clock port), so a node that dies disappears on its own; a node that stops
    gracefully removes itself. Technology errors surface as ``BackendUnavailableError``.
    """

    async def heartbeat(self, node: NodeInfo) -> None:
        """Store ``node`` (replacing its previous beat) for ``node.ttl`` seconds from ``node.last_seen``."""
        ...

    async def list_nodes(self) -> list[NodeInfo]:
        """Every live node, sorted by node id; expired entries are pruned on the way."""
        ...

    async def remove(self, node_id: str) -> None:
        """Forget a node at once (graceful stop). Unknown ids are ignored."""
        ...


@runtime_checkable
class NodeRegistryProvider(Protocol):
    """A durable backend that holds its nodes' registry too (the in-memory and Redis
    backends): a durable TaskManager on it heartbeats there unless given another.
    """

    def node_registry(self) -> NodeRegistry: ...
