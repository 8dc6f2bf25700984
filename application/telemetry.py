"""Metric counters and the do-nothing Tracer and Meter used until real ones are set."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from pyworker.application.events import AttemptInfo
from pyworker.application.ports import Meter, TaskSpan, Tracer
from pyworker.domain import MetricsSnapshot

logger = logging.getLogger("pyworker.telemetry")


class MetricCounters:
    """The manager's cumulative counters (loop-confined, so plain ints)."""

    __slots__ = (
        "cancelled",
        "completed",
        "failed",
        "latency_count",
        "latency_max",
        "latency_total",
        "results_dropped",
        "retried",
        "scheduled",
    )

    def __init__(self) -> None:
        self.scheduled = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.retried = 0
        self.results_dropped = 0
        self.latency_count = 0
        self.latency_total = 0.0
        self.latency_max = 0.0

    def snapshot(self, queue_depth: int, running: int) -> MetricsSnapshot:
        return MetricsSnapshot(
            scheduled=self.scheduled,
            running=running,
            completed=self.completed,
            failed=self.failed,
            cancelled=self.cancelled,
            retried=self.retried,
            results_dropped=self.results_dropped,
            queue_depth=queue_depth,
            task_latency_count=self.latency_count,
            task_latency_total=self.latency_total,
            task_latency_max=self.latency_max,
        )


class _NoopSpan:
    __slots__ = ()

    def end(self, error: BaseException | None) -> None:
        return None


_NOOP_SPAN = _NoopSpan()


class NoopTracer:
    """A Tracer that records nothing."""

    def start(self, attempt: AttemptInfo) -> TaskSpan:
        return _NOOP_SPAN


class NoopMeter:
    """A Meter that exports nothing."""

    def observe(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        return None

    def record_latency(self, seconds: float) -> None:
        return None

    def close(self) -> None:
        return None


def start_span(tracer: Tracer, attempt: AttemptInfo) -> TaskSpan:
    """tracer.start, falling back to a no-op span when it raises (docs/task-manager.md, tracer)."""
    try:
        return tracer.start(attempt)
    except Exception:
        logger.exception("tracer.start raised; the attempt runs without a span")
        return _NOOP_SPAN


#: A tracer's optional ``trace_context()``: the current trace context as text headers.
TraceContext = Callable[[], Mapping[str, str]]


def trace_context_of(tracer: Tracer | None) -> TraceContext | None:
    """The tracer's ``trace_context`` method, if it has one (docs/observability.md, propagation)."""
    method = getattr(tracer, "trace_context", None)
    return method if callable(method) else None


def with_trace_context(metadata: Mapping[str, str], trace_context: TraceContext) -> Mapping[str, str] | None:
    """``metadata`` plus the registering caller's trace context, or None when there is
    nothing to add (no span is current, or the metadata already names a parent).
    A tracer that raises is logged: registration never fails because of it.
    """
    if "traceparent" in metadata:
        return None
    try:
        headers = trace_context()
    except Exception:
        logger.exception("tracer.trace_context raised; the task is registered without a trace context")
        return None
    if not headers:
        return None
    return {**metadata, **headers}


def end_span(span: TaskSpan, error: BaseException | None) -> None:
    try:
        span.end(error)
    except Exception:
        logger.exception("span.end raised")


def close_meter(meter: Meter) -> None:
    try:
        meter.close()
    except Exception:
        logger.exception("meter.close raised")
