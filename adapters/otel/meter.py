"""OtelMeter: the Meter port on OpenTelemetry, go-worker's nine instruments."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from pyworker.domain import MetricsSnapshot

#: The meter (instrumentation scope) name used when none is given.
DEFAULT_METER_NAME = "pyworker"

#: (instrument name, snapshot field, description) of the observable counters.
_COUNTERS = (
    ("tasks_scheduled_total", "scheduled", "total scheduled"),
    ("tasks_completed_total", "completed", "completed"),
    ("tasks_failed_total", "failed", "failed"),
    ("tasks_cancelled_total", "cancelled", "cancelled"),
    ("tasks_retried_total", "retried", "retries"),
    ("results_dropped_total", "results_dropped", "dropped results"),
)
#: The same for the observable gauges.
_GAUGES = (
    ("tasks_running", "running", "running now"),
    ("queue_depth", "queue_depth", "queued (ready+delayed)"),
)
LATENCY_HISTOGRAM = "task_latency_seconds"
#: Bucket bounds in seconds (the SDK default, 0 to 10000 in coarse steps, suits milliseconds).
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Every instrument name, in go-worker's order of the table in docs/observability.md.
INSTRUMENT_NAMES = (
    "tasks_scheduled_total",
    "tasks_running",
    "tasks_completed_total",
    "tasks_failed_total",
    "tasks_cancelled_total",
    "tasks_retried_total",
    "results_dropped_total",
    "queue_depth",
    LATENCY_HISTOGRAM,
)


class _Scope:
    """The instruments of one (provider, meter name, version), created once.

    OpenTelemetry cannot unregister an observable instrument, and creating one twice
    keeps the first callback; so the callbacks read whichever OtelMeter is current
    here, and replacing a meter on the same provider only swaps ``source``.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.source: Callable[[], MetricsSnapshot] | None = None
        self.owner: object = None
        for name, field, description in _COUNTERS:
            meter.create_observable_counter(name, callbacks=[self._reader(field)], description=description)
        for name, field, description in _GAUGES:
            meter.create_observable_gauge(name, callbacks=[self._reader(field)], description=description)
        self.latency = meter.create_histogram(
            LATENCY_HISTOGRAM,
            unit="s",
            description="task latency in seconds",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )

    def _reader(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            source = self.source
            if source is None:
                return ()
            return (Observation(int(getattr(source(), field))),)

        return observe


_scopes: weakref.WeakKeyDictionary[metrics.MeterProvider, dict[tuple[str, str | None], _Scope]] = (
    weakref.WeakKeyDictionary()
)


def _scope(provider: metrics.MeterProvider, name: str, version: str | None) -> _Scope:
    per_provider = _scopes.setdefault(provider, {})
    scope = per_provider.get((name, version))
    if scope is None:
        scope = per_provider[(name, version)] = _Scope(provider.get_meter(name, version))
    return scope


class OtelMeter:
    """The Meter port on an injected OpenTelemetry MeterProvider.

    The observable counters and gauges report the manager's cumulative snapshot on
    each collection (values from before the meter was installed included); the
    ``task_latency_seconds`` histogram records latencies from then on. ``close()``
    stops reporting: a closed meter's instruments observe nothing.

    Args:
        provider: the MeterProvider.
        name: the meter name (empty: ``pyworker``).
        version: the meter's instrumentation version.
    """

    def __init__(
        self, provider: metrics.MeterProvider, name: str = DEFAULT_METER_NAME, version: str | None = None
    ) -> None:
        self._scope = _scope(provider, name or DEFAULT_METER_NAME, version or None)
        self._latency: metrics.Histogram | None = self._scope.latency

    def observe(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self._scope.source = snapshot
        self._scope.owner = self

    def record_latency(self, seconds: float) -> None:
        if self._latency is not None:
            self._latency.record(seconds)

    def close(self) -> None:
        self._latency = None
        if self._scope.owner is self:
            self._scope.source = None
            self._scope.owner = None


def otel_meter_factory(provider: metrics.MeterProvider, name: str, version: str | None) -> OtelMeter:
    """The MeterFactory a TaskManager takes (``TaskManager(meter_factory=otel_meter_factory)``)."""
    return OtelMeter(provider, name, version)
