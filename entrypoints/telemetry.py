"""The container's telemetry: a frozen TelemetryConfig, and the OpenTelemetry providers as resources.

OpenTelemetry and the otel adapters are imported only when telemetry is turned on: a
worker without telemetry flags never loads them (docs/adr/0017-lazy-workerctl-commands.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pyworker.application import Meter, NoopTracer, Tracer
from pyworker.domain import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from pyworker.adapters.otel import OtelDurableMetrics
    from pyworker.adapters.otel.exporters import MeterProviderHandle


@attrs.frozen
class TelemetryConfig:
    """What the container exports (docs/observability.md). Nothing by default.

    Attributes:
        traces: ``none``, ``console`` or ``otlp``; empty: ``OTEL_TRACES_EXPORTER``, else none.
        metrics: ``none``, ``console``, ``otlp`` or ``prometheus``; empty:
            ``OTEL_METRICS_EXPORTER``, else ``prometheus`` when ``metrics_port`` is set, else none.
        service_name: the resource's ``service.name`` (``OTEL_SERVICE_NAME`` wins).
        otlp_endpoint: the OTLP/HTTP base URL; empty: ``OTEL_EXPORTER_OTLP_*_ENDPOINT``.
        metrics_port: the Prometheus scrape port (0: any free port).
        metrics_host: the address the scrape endpoint binds.
        metric_interval: seconds between console/OTLP metric exports (None:
            ``OTEL_METRIC_EXPORT_INTERVAL``, default 60).
        meter_name, meter_version: the meter's instrumentation scope.
        stats_interval: seconds between two reads of the durable queue depths.
    """

    traces: str = ""
    metrics: str = ""
    service_name: str = "pyworker"
    otlp_endpoint: str = ""
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metric_interval: float | None = None
    meter_name: str = "pyworker"
    meter_version: str | None = None
    stats_interval: float = 5.0

    def exporters(self, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
        """(traces, metrics) after the ``OTEL_*`` fallbacks; ``OTEL_SDK_DISABLED=true`` turns both off.

        Raises:
            ConfigurationError: an unknown exporter name.
        """
        env = os.environ if environ is None else environ
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return "none", "none"
        traces = self.traces or env.get("OTEL_TRACES_EXPORTER", "").strip() or "none"
        metrics = self.metrics or env.get("OTEL_METRICS_EXPORTER", "").strip()
        if not metrics:
            metrics = "prometheus" if self.metrics_port is not None else "none"
        if traces == "none" and metrics == "none":
            return traces, metrics
        from pyworker.adapters.otel.exporters import METRIC_EXPORTERS, TRACE_EXPORTERS

        if traces not in TRACE_EXPORTERS:
            raise ConfigurationError(reason=f"unknown traces exporter {traces!r} (one of {', '.join(TRACE_EXPORTERS)})")
        if metrics not in METRIC_EXPORTERS:
            raise ConfigurationError(
                reason=f"unknown metrics exporter {metrics!r} (one of {', '.join(METRIC_EXPORTERS)})"
            )
        return traces, metrics


def open_tracer_provider(settings: TelemetryConfig) -> Iterator[TracerProvider | None]:
    """The configured TracerProvider (None when traces are off); flushed and shut down on close."""
    traces, _ = settings.exporters()
    if traces == "none":
        yield None
        return
    from pyworker.adapters.otel.exporters import tracer_provider

    provider = tracer_provider(traces, settings.service_name, settings.otlp_endpoint)
    try:
        yield provider
    finally:
        provider.shutdown()


def open_meter_provider(settings: TelemetryConfig) -> Iterator[MeterProviderHandle | None]:
    """The configured MeterProvider (None when metrics are off); its scrape endpoint stops on close."""
    _, metrics = settings.exporters()
    if metrics == "none":
        yield None
        return
    from pyworker.adapters.otel.exporters import meter_provider

    port = settings.metrics_port if settings.metrics_port is not None else 9464
    handle = meter_provider(
        metrics, settings.service_name, settings.otlp_endpoint, port, settings.metrics_host, settings.metric_interval
    )
    try:
        yield handle
    finally:
        handle.close()


def build_tracer(provider: TracerProvider | None) -> Tracer:
    if provider is None:
        return NoopTracer()
    from pyworker.adapters.otel.tracer import OtelTracer

    return OtelTracer(provider)


def build_meter(handle: MeterProviderHandle | None, settings: TelemetryConfig) -> Meter | None:
    if handle is None:
        return None
    from pyworker.adapters.otel.meter import OtelMeter

    return OtelMeter(handle.provider, settings.meter_name, settings.meter_version)


def otel_meter_factory(provider: Any, name: str, version: str | None) -> Meter:
    """The container's MeterFactory: ``pyworker.adapters.otel.otel_meter_factory``, imported
    only when a manager is given a meter provider (``set_meter_provider``)."""
    from pyworker.adapters.otel.meter import otel_meter_factory as factory

    return factory(provider, name, version)


async def open_durable_metrics(
    handle: MeterProviderHandle | None, backend: Any, settings: TelemetryConfig
) -> AsyncIterator[OtelDurableMetrics | None]:
    """The durable operator metrics (queue depth, redeliveries, dead-lettered) when
    metrics are on and a durable backend is configured; its stats poller runs until close.
    """
    if handle is None or backend is None:
        yield None
        return
    from pyworker.adapters.otel.durable_metrics import OtelDurableMetrics

    durable = OtelDurableMetrics(
        handle.provider, backend, settings.meter_name, settings.meter_version, settings.stats_interval
    )
    poller = asyncio.get_running_loop().create_task(durable.run(), name="pyworker-durable-metrics")
    try:
        yield durable
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        durable.close()
