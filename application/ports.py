"""The ports: what the application needs from the outside world, as Protocols.

Adapters implement these structurally (they do not inherit); mypy checks
conformance where the container binds them, and the contract suites in
``tests/contract`` check behaviour against every adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pyworker.application.durable_queue import CancelSubscription, DurableQueue
from pyworker.application.events import AttemptInfo
from pyworker.application.inspector import DurableInspector
from pyworker.domain import MetricsSnapshot, NodeInfo

__all__ = [
    "CancelSubscription",
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
