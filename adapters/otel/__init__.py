"""OpenTelemetry adapters: the Tracer and Meter ports, providers injected, never set globally."""

from pyworker.adapters.otel.durable_metrics import OtelDurableMetrics
from pyworker.adapters.otel.meter import INSTRUMENT_NAMES, OtelMeter, otel_meter_factory
from pyworker.adapters.otel.tracer import SPAN_NAME, OtelSpan, OtelTracer

__all__ = [
    "INSTRUMENT_NAMES",
    "SPAN_NAME",
    "OtelDurableMetrics",
    "OtelMeter",
    "OtelSpan",
    "OtelTracer",
    "otel_meter_factory",
]
