"""The metrics snapshot returned by get_metrics()."""

from __future__ import annotations

import attrs


@attrs.frozen
class MetricsSnapshot:
    """Cumulative counters and gauges of one manager (docs/task-manager.md#metrics).

    ``failed`` counts each terminal Failed / ContextDeadlineReached finish once
    (go-worker also counts every failed attempt; pyworker does not).
    """

    scheduled: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    results_dropped: int = 0
    queue_depth: int = 0
    task_latency_count: int = 0
    task_latency_total: float = 0.0
    task_latency_max: float = 0.0
