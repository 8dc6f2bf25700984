"""SDK providers with the exporters the container offers: console, OTLP/HTTP, Prometheus.

The OTLP and Prometheus exporters are extras (``pyworker[otlp]``, ``pyworker[prometheus]``);
a missing one is a ConfigurationError that names the extra. The standard ``OTEL_*``
variables apply: the resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``),
the OTLP endpoint, headers and timeout (``OTEL_EXPORTER_OTLP_*``) and the metric
export interval (``OTEL_METRIC_EXPORT_INTERVAL``).
"""

from __future__ import annotations

import threading
from typing import IO, Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

from pyworker.domain import ConfigurationError

TRACE_EXPORTERS = ("none", "console", "otlp")
METRIC_EXPORTERS = ("none", "console", "otlp", "prometheus")


def _missing(extra: str, exc: ImportError) -> ConfigurationError:
    return ConfigurationError(reason=f"the {extra} exporter is not installed: pip install 'pyworker[{extra}]' ({exc})")


def resource(service_name: str) -> Resource:
    """The SDK resource: ``OTEL_SERVICE_NAME``, then ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``, win over ``service_name`` (the SDK would let an
    explicit attribute win; a deployment's variables should)."""
    detected = Resource.create()
    if not service_name or not str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: service_name}))


def tracer_provider(
    exporter: str, service_name: str = "pyworker", endpoint: str = "", out: IO[str] | None = None
) -> TracerProvider:
    """A TracerProvider exporting to ``console`` (stdout, each span as it ends) or ``otlp``
    (batched, to ``endpoint`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``..._ENDPOINT``).

    Raises:
        ConfigurationError: an unknown exporter, or the otlp extra is missing.
    """
    provider = TracerProvider(resource=resource(service_name))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out) if out else ConsoleSpanExporter()))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise _missing("otlp", exc) from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_endpoint(endpoint, "v1/traces"))))
    elif exporter != "none":
        raise ConfigurationError(reason=f"unknown traces exporter {exporter!r} (one of {', '.join(TRACE_EXPORTERS)})")
    return provider


class PrometheusEndpoint:
    """The Prometheus scrape endpoint (``/metrics``) on its own registry and thread."""

    def __init__(self, port: int, host: str) -> None:
        try:
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError as exc:
            raise _missing("prometheus", exc) from exc
        self.registry = CollectorRegistry()
        self.reader: MetricReader = PrometheusMetricReader(registry=self.registry)
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigurationError(reason=f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
        self.port: int = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        thread: threading.Thread = self._thread
        thread.join(5)


class MeterProviderHandle:
    """A MeterProvider and what it serves; ``close()`` flushes and stops both."""

    def __init__(self, provider: MeterProvider, endpoint: PrometheusEndpoint | None) -> None:
        self.provider = provider
        self.prometheus = endpoint

    def close(self) -> None:
        try:
            self.provider.shutdown()
        finally:
            if self.prometheus is not None:
                self.prometheus.close()


def meter_provider(
    exporter: str,
    service_name: str = "pyworker",
    endpoint: str = "",
    port: int = 9464,
    host: str = "127.0.0.1",
    interval: float | None = None,
    out: IO[str] | None = None,
) -> MeterProviderHandle:
    """A MeterProvider exporting to ``console`` or ``otlp`` every ``interval`` seconds
    (None: ``OTEL_METRIC_EXPORT_INTERVAL``, default 60 s), or serving ``prometheus``
    scrapes on ``host:port`` (port 0 picks a free one: see ``handle.prometheus.port``).

    Raises:
        ConfigurationError: an unknown exporter, a missing extra, a port in use.
    """
    readers: list[MetricReader] = []
    prometheus: PrometheusEndpoint | None = None
    millis: dict[str, Any] = {} if interval is None else {"export_interval_millis": interval * 1000}
    if exporter == "console":
        console = ConsoleMetricExporter(out=out) if out else ConsoleMetricExporter()
        readers.append(PeriodicExportingMetricReader(console, **millis))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        except ImportError as exc:
            raise _missing("otlp", exc) from exc
        otlp = OTLPMetricExporter(endpoint=_endpoint(endpoint, "v1/metrics"))
        readers.append(PeriodicExportingMetricReader(otlp, **millis))
    elif exporter == "prometheus":
        prometheus = PrometheusEndpoint(port, host)
        readers.append(prometheus.reader)
    elif exporter != "none":
        raise ConfigurationError(reason=f"unknown metrics exporter {exporter!r} (one of {', '.join(METRIC_EXPORTERS)})")
    return MeterProviderHandle(MeterProvider(resource=resource(service_name), metric_readers=readers), prometheus)


def _endpoint(base: str, path: str) -> str | None:
    """An explicit base URL gets the signal's path (as ``OTEL_EXPORTER_OTLP_ENDPOINT`` does);
    None leaves the exporter to read the environment."""
    return f"{base.rstrip('/')}/{path}" if base else None
