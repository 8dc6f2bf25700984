"""The telemetry options ``workerctl worker`` and ``workerctl serve`` share (docs/observability.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from pyworker.entrypoints.container import Application

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=None, envvar="PYWORKER_METRICS_PORT",
                 help="Serve Prometheus metrics on this port (0: any free port)."),
    click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics endpoint binds."),
    click.option("--traces", type=click.Choice(["none", "console", "otlp"]), default=None,
                 help="Span exporter (default: OTEL_TRACES_EXPORTER, else none)."),
    click.option("--metrics", "metrics_exporter", type=click.Choice(["none", "console", "otlp", "prometheus"]),
                 default=None, help="Metric exporter (default: OTEL_METRICS_EXPORTER, else prometheus with "
                 "--metrics-port, else none)."),
)  # fmt: skip


def telemetry_options(command: F) -> F:
    """Add ``--metrics-port``, ``--metrics-host``, ``--traces`` and ``--metrics`` to a command:
    its function gets ``metrics_port``, ``metrics_host``, ``traces`` and ``metrics_exporter``."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def telemetry_settings(
    service_name: str,
    *,
    metrics_port: int | None,
    metrics_host: str,
    traces: str | None,
    metrics_exporter: str | None,
) -> dict[str, Any]:
    """The container's TelemetryConfig fields for the options of ``telemetry_options``."""
    return {
        "traces": traces or "",
        "metrics": metrics_exporter or "",
        "metrics_port": metrics_port,
        "metrics_host": metrics_host,
        "service_name": service_name,
    }


def telemetry_banner(container: Application) -> str:
    """`` traces=... metrics=...`` for the readiness line (the scrape URL when Prometheus serves)."""
    traces, metrics = container.core.telemetry().exporters()
    if traces == "none" and metrics == "none":
        return ""
    handle = container.core.meter_provider()
    if metrics == "prometheus" and handle is not None and handle.prometheus is not None:
        settings = container.core.telemetry()
        metrics = f"http://{settings.metrics_host}:{handle.prometheus.port}/metrics"
    return f" traces={traces} metrics={metrics}"
