"""OtelDurableMetrics: the operator metrics of a durable node, labelled by queue."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from pyworker.adapters.otel.meter import DEFAULT_METER_NAME
from pyworker.application import DurableInspector
from pyworker.domain import DurableStats, Task, TaskStatus

logger = logging.getLogger("pyworker.otel")

QUEUE_DEPTH = "durable_queue_depth"
REDELIVERIES = "durable_redeliveries_total"
DEAD_LETTERED = "durable_dead_lettered_total"
ACK_LATENCY = "durable_ack_latency_seconds"
#: Bucket bounds in seconds: an ack is one batched round trip, usually well under 100 ms.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The ``queue`` label of the dead-letter count: the inspector counts dead tasks backend-wide.
ALL_QUEUES = "*"


class _Depth:
    """The queue-depth gauge of one (provider, scope), created once; it reads the
    current owner's last stats (an observable instrument cannot be unregistered)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.owner: OtelDurableMetrics | None = None
        meter.create_observable_gauge(
            QUEUE_DEPTH, callbacks=[self._observe], description="durable tasks by queue and state"
        )
        self.redeliveries = meter.create_counter(
            REDELIVERIES, description="deliveries after the first (a retry or an expired lease)"
        )
        self.dead_lettered = meter.create_counter(DEAD_LETTERED, description="durable tasks dead-lettered here")
        self.ack_latency = meter.create_histogram(
            ACK_LATENCY,
            unit="s",
            description="from a successful attempt's end to its ack",
            explicit_bucket_boundaries_advisory=ACK_BUCKETS,
        )

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        owner = self.owner
        stats = owner.stats if owner is not None else None
        if stats is None:
            return ()
        points = [
            Observation(value, {"queue": queue.queue, "state": state})
            for queue in stats.queues
            for state, value in (("ready", queue.ready), ("delayed", queue.delayed), ("processing", queue.processing))
        ]
        points.append(Observation(stats.dead, {"queue": ALL_QUEUES, "state": "dead"}))
        return points


_depths: weakref.WeakKeyDictionary[metrics.MeterProvider, dict[tuple[str, str | None], _Depth]] = (
    weakref.WeakKeyDictionary()
)


class OtelDurableMetrics:
    """A lifecycle listener and a poller that export what an operator of durable
    queues watches, through the same MeterProvider as the nine task metrics:

    - ``durable_queue_depth`` (gauge; ``queue``, ``state`` = ready / delayed /
      processing, and ``queue="*"``, ``state="dead"``): the inspector's stats,
      refreshed every ``interval`` seconds by ``run()``;
    - ``durable_redeliveries_total`` (counter; ``queue``): deliveries on this node
      with attempt > 1, after a retry or an expired lease (so lease expirations =
      this minus ``tasks_retried_total``, summed over the nodes);
    - ``durable_dead_lettered_total`` (counter; ``queue``): tasks this node
      dead-lettered (failed for good, or cancelled);
    - ``durable_ack_latency_seconds`` (histogram, ``s``; ``queue``): from the end
      of a successful attempt to its ack (acks are batched).

    Install with ``manager.add_listener(metrics)`` and run ``metrics.run()`` as a task.

    Args:
        provider: the MeterProvider.
        inspector: the DurableInspector whose stats the depth gauge reports.
        name, version: the meter's instrumentation scope.
        interval: seconds between two stats reads.
    """

    def __init__(
        self,
        provider: metrics.MeterProvider,
        inspector: DurableInspector,
        name: str = DEFAULT_METER_NAME,
        version: str | None = None,
        interval: float = 5.0,
    ) -> None:
        per_provider = _depths.setdefault(provider, {})
        key = (name or DEFAULT_METER_NAME, version or None)
        depth = per_provider.get(key)
        if depth is None:
            depth = per_provider[key] = _Depth(provider.get_meter(*key))
        self._depth = depth
        depth.owner = self
        self._inspector = inspector
        self.interval = interval
        self.stats: DurableStats | None = None
        self.active = True
        # Keyed by the Task object (identity hash), as the executor's running map.
        self._ended: dict[Task, float] = {}

    async def refresh(self) -> None:
        """Read the stats now (what the gauge reports until the next read)."""
        self.stats = await self._inspector.stats()

    async def run(self) -> None:
        """Refresh every ``interval`` seconds until cancelled; a failed read is logged and retried."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the backend is away: keep the last figures, try again
                logger.warning("durable queue stats unavailable: %s", exc)
            await asyncio.sleep(self.interval)

    def attempt_started(self, task: Task) -> None:
        if task.attempts > 1 and self.active:
            self._depth.redeliveries.add(1, {"queue": task.queue})

    def attempt_ended(self, task: Task, now: float) -> None:
        if self.active:
            self._ended[task] = now

    def task_finished(
        self, task: Task, status: TaskStatus, result: Any, error: BaseException | None, now: float
    ) -> None:
        ended = self._ended.pop(task, None)
        if not self.active:
            return
        if status is TaskStatus.COMPLETED:
            if ended is not None:
                self._depth.ack_latency.record(max(now - ended, 0.0), {"queue": task.queue})
        elif status is TaskStatus.FAILED or status is TaskStatus.CANCELLED:
            self._depth.dead_lettered.add(1, {"queue": task.queue})

    def retry_scheduled(self, task: Task, delay: float, attempt: int) -> None:
        self._ended.pop(task, None)  # a nack, not an ack: this delivery is over

    def close(self) -> None:
        """Stop reporting (the listener stays installed but inactive)."""
        self.active = False
        self._ended.clear()
        if self._depth.owner is self:
            self._depth.owner = None
