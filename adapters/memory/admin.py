"""The admin ports in one process: queue weights the embedded backend's dequeue reads, and a bounded audit log."""

from __future__ import annotations

import collections
from collections.abc import Callable

import attrs

from pyworker.adapters.clock import SystemClock
from pyworker.application.admin import DEFAULT_AUDIT_LIMIT, Sample
from pyworker.application.ports import Clock
from pyworker.domain.admin import AuditEvent

#: Audit events kept by default (the Redis log's default too).
DEFAULT_AUDIT_CAPACITY = 10_000


class InMemoryQueueWeights:
    """Stored weights of one InMemoryDurableBackend; ``on_change(queue, weights)`` tells the
    backend, whose round robin uses them over its configured weights."""

    def __init__(self, on_change: Callable[[str, dict[str, int]], None]) -> None:
        self._weights: dict[str, int] = {}
        self._on_change = on_change

    async def weights(self) -> dict[str, int]:
        return dict(self._weights)

    async def set_weight(self, queue: str, weight: int) -> None:
        self._weights[queue] = max(int(weight), 1)
        self._on_change(queue, dict(self._weights))

    async def reset_weight(self, queue: str) -> bool:
        found = self._weights.pop(queue, None) is not None
        self._on_change(queue, dict(self._weights))
        return found


class InMemoryAuditLog:
    """The newest ``capacity`` events; with ``retention`` (seconds), older ones are dropped on
    record and hidden on read."""

    def __init__(
        self, capacity: int = DEFAULT_AUDIT_CAPACITY, retention: float | None = None, clock: Clock | None = None
    ) -> None:
        self._events: collections.deque[AuditEvent] = collections.deque(maxlen=max(capacity, 1))
        self._retention = retention if retention and retention > 0 else None
        self._clock: Clock = clock if clock is not None else SystemClock()

    async def record(self, event: AuditEvent) -> None:
        self._events.appendleft(event)
        cutoff = self._cutoff()
        while self._events and self._events[-1].at < cutoff:
            self._events.pop()

    async def events(self, *, action: str = "", target: str = "", limit: int = DEFAULT_AUDIT_LIMIT) -> list[AuditEvent]:
        cutoff = self._cutoff()
        found: list[AuditEvent] = []
        for event in self._events:
            if len(found) >= limit:
                break
            if event.at >= cutoff and action in ("", event.action) and target in ("", event.target):
                found.append(event)
        return found

    def _cutoff(self) -> float:
        return float("-inf") if self._retention is None else self._clock.now() - self._retention


class InMemoryAdminHistory:
    """HistoryStore in one process: one sample per bucket, the newest ``capacity`` kept; each
    bucket's outcomes counted by ``settled`` (the backend's results: (completed, failed) in a span)."""

    def __init__(self, settled: Callable[[float, float], tuple[int, int]]) -> None:
        self._settled = settled
        self._samples: dict[float, Sample] = {}

    async def add(self, sample: Sample, interval: float, capacity: int) -> bool:
        if sample.at in self._samples:
            return False
        completed, failed = self._settled(sample.at, sample.at + interval)
        self._samples[sample.at] = attrs.evolve(sample, completed=completed, failed=failed)
        for old in sorted(self._samples)[: max(len(self._samples) - max(int(capacity), 1), 0)]:
            del self._samples[old]
        return True

    async def samples(self, since: float) -> list[Sample]:
        return [self._samples[at] for at in sorted(self._samples) if at >= since]
