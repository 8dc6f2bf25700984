"""The admin plane's history: depth and throughput samples kept in the store, one per time bucket.

Every admin process samples; the store keeps one sample per bucket whoever writes first, so
several admin processes share one history and a restart loses nothing (docs/admin.md, "Charts").
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import attrs

from pyworker.application.inspector import DurableInspector
from pyworker.application.ports import Clock
from pyworker.domain import WorkerError

logger = logging.getLogger("pyworker.admin")

#: Seconds per bucket, and buckets kept: 360 samples of 10 s are one hour.
SAMPLE_INTERVAL = 10.0
SAMPLE_CAPACITY = 360


@attrs.frozen
class Sample:
    """One bucket ``[at, at + interval)``: the depths read as it ended, and the task outcomes
    the nodes settled within it: ``completed`` (acked) and ``failed`` (dead-lettered: failed
    or past its deadline; a cancellation counts in neither)."""

    at: float
    ready: int
    delayed: int
    processing: int
    dead: int
    completed: int = 0
    failed: int = 0


@runtime_checkable
class HistoryStore(Protocol):
    """Samples next to the tasks, one per bucket, the newest ``capacity`` kept.

    Technology errors surface as ``BackendUnavailableError``.
    """

    async def add(self, sample: Sample, interval: float, capacity: int) -> bool:
        """Store ``sample`` for its bucket unless one is stored already (in one atomic step),
        with the outcomes settled in ``[sample.at, sample.at + interval)`` counted by the
        store (``sample.completed`` and ``failed`` are ignored). True if this call stored it."""
        ...

    async def samples(self, since: float) -> list[Sample]:
        """The stored samples of buckets at or after ``since``, oldest first."""
        ...


@runtime_checkable
class HistoryStoreProvider(Protocol):
    """A durable backend that keeps the admin history (the Redis backend)."""

    def admin_history(self) -> HistoryStore: ...


def bucket_of(at: float, interval: float) -> float:
    """The start of the bucket ``at`` falls in."""
    return (at // interval) * interval


class HistorySampler:
    """Samples the store's depths each ``interval`` into a HistoryStore, and reads the last hour.

    ``run`` loops until cancelled: just after each bucket ends it samples that bucket (a
    store that does not answer is logged and the next bucket is tried).
    """

    def __init__(
        self,
        inspector: DurableInspector,
        store: HistoryStore,
        clock: Clock,
        *,
        interval: float = SAMPLE_INTERVAL,
        capacity: int = SAMPLE_CAPACITY,
    ) -> None:
        self._inspector = inspector
        self.store = store
        self._clock = clock
        self.interval = interval
        self.capacity = capacity

    async def sample_once(self) -> bool:
        """Sample the bucket that ended last; True if this process stored it."""
        at = bucket_of(self._clock.now(), self.interval) - self.interval
        stats = await self._inspector.stats()
        sample = Sample(at, stats.total_ready, stats.total_delayed, stats.total_processing, stats.dead)
        return await self.store.add(sample, self.interval, self.capacity)

    async def recent(self) -> list[Sample]:
        """The samples of the last ``capacity`` buckets, oldest first."""
        since = bucket_of(self._clock.now(), self.interval) - self.interval * self.capacity
        return await self.store.samples(since)

    async def run(self) -> None:
        while True:
            try:
                await self.sample_once()
            except WorkerError as exc:
                logger.warning("admin history: sample not stored: %s", exc)
            now = self._clock.now()
            # a moment after the next bucket ends, so the outcomes settled within it are in
            await self._clock.sleep(bucket_of(now, self.interval) + self.interval + 0.2 - now)

