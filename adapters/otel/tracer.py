"""OtelTracer: the Tracer port on OpenTelemetry, one ``worker.task`` span per attempt."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Token

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from pyworker.application.events import AttemptInfo

#: The span every attempt gets (go-worker's name).
SPAN_NAME = "worker.task"
#: The instrumentation scope name used when none is given.
DEFAULT_TRACER_NAME = "pyworker"
#: The W3C trace-context keys a task's metadata carries across processes.
TRACE_CONTEXT_KEYS = ("traceparent", "tracestate")


class OtelSpan:
    """One attempt's span, current while the attempt runs."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span, token: Token[otel_context.Context]) -> None:
        self._span = span
        self._token = token

    def end(self, error: BaseException | None) -> None:
        span = self._span
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        try:
            otel_context.detach(self._token)
        finally:
            span.end()


class OtelTracer:
    """The Tracer port on an injected OpenTelemetry TracerProvider.

    Each attempt gets a span named ``worker.task`` with the attributes ``task.id``,
    ``task.name``, ``task.priority``, ``task.queue``, ``task.attempt`` and
    ``task.correlation_id``; a failed attempt sets the error status and records an
    exception event. The span's parent is the trace context in the task's metadata
    (``traceparent``/``tracestate``, put there at registration by
    ``trace_context()``), else the current context. The span is current while the
    attempt runs, so the function's own spans are its children.

    Args:
        provider: the TracerProvider (None: OpenTelemetry's global one, read, never set).
        name: the instrumentation scope name.
        version: the instrumentation scope version.
        propagator: the text-map propagator (default: W3C trace context).
    """

    def __init__(
        self,
        provider: trace.TracerProvider | None = None,
        name: str = DEFAULT_TRACER_NAME,
        version: str | None = None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(name or DEFAULT_TRACER_NAME, version, tracer_provider=provider)
        self._propagator = propagator if propagator is not None else TraceContextTextMapPropagator()

    def start(self, attempt: AttemptInfo) -> OtelSpan:
        metadata = attempt.metadata
        parent = self._propagator.extract(metadata) if "traceparent" in metadata else None
        attributes: Attributes = {
            "task.id": str(attempt.task_id),
            "task.name": attempt.name,
            "task.priority": attempt.priority,
            "task.queue": attempt.queue,
            "task.attempt": attempt.attempt,
            "task.correlation_id": attempt.correlation_id,
        }
        span = self._tracer.start_span(SPAN_NAME, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return OtelSpan(span, token)

    def trace_context(self) -> Mapping[str, str]:
        """The current trace context as W3C headers (empty when no span is current):
        the manager adds it to a task's metadata when the task is registered.
        """
        carrier: dict[str, str] = {}
        if trace.get_current_span().get_span_context().is_valid:
            self._propagator.inject(carrier)
        return carrier
