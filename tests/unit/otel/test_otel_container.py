"""Telemetry in the container (docs/observability.md): the providers are resources built from
TelemetryConfig (and the OTEL_* fallbacks), the manager gets the tracer and meter on them,
set_meter_provider works however the manager was built, the Prometheus endpoint serves the
nine families and stops with the container."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import pytest
from dependency_injector import providers
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pyworker.adapters.otel import INSTRUMENT_NAMES, OtelTracer
from pyworker.adapters.otel.exporters import MeterProviderHandle, resource
from pyworker.application import NoopTracer, TaskManager
from pyworker.domain import ConfigurationError, Task, TaskContext
from pyworker.entrypoints.container import (
    build_container,
    new_task_manager,
    open_task_manager,
    shutdown,
    task_manager_scope,
)
from pyworker.entrypoints.telemetry import TelemetryConfig
from tests.support.waits import within


async def ok(ctx: TaskContext) -> str:
    return "ok"


def metric_names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    assert data is not None
    return {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}


async def test_the_container_wires_tracer_and_meter_on_its_providers(
    tracer_provider: TracerProvider,
    spans: InMemorySpanExporter,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
) -> None:
    container = build_container(telemetry={"traces": "console", "metrics": "console"})
    container.core.tracer_provider.override(providers.Object(tracer_provider))
    container.core.meter_provider.override(providers.Object(MeterProviderHandle(meter_provider, None)))
    async with task_manager_scope(container) as manager:
        await manager.register_task(Task(execute=ok, name="wired"))
        await within(manager.wait())
        assert [span.name for span in spans.get_finished_spans()] == ["worker.task"]
        assert metric_names(reader) == set(INSTRUMENT_NAMES)


async def test_no_telemetry_by_default() -> None:
    container = build_container()
    assert isinstance(container.core.tracer(), NoopTracer)
    assert container.core.meter() is None
    await shutdown(container)


@pytest.mark.parametrize("how", ["open_task_manager", "new_task_manager"])
async def test_set_meter_provider_and_set_tracer_work_however_built(
    how: str,
    tracer_provider: TracerProvider,
    spans: InMemorySpanExporter,
    meter_provider: MeterProvider,
    reader: InMemoryMetricReader,
) -> None:
    async def check(manager: object) -> None:
        assert isinstance(manager, TaskManager)
        manager.set_meter_provider(meter_provider)
        manager.set_tracer(OtelTracer(tracer_provider))
        await manager.register_task(Task(execute=ok))
        await within(manager.wait())
        assert len(spans.get_finished_spans()) == 1
        assert metric_names(reader) == set(INSTRUMENT_NAMES)

    if how == "open_task_manager":
        async with open_task_manager() as manager:
            await check(manager)
    else:
        manager = new_task_manager()
        try:
            await check(manager)
        finally:
            await within(manager.stop_now())


def test_otel_environment_variables_are_the_fallback() -> None:
    assert TelemetryConfig().exporters({}) == ("none", "none")
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "otlp"}
    assert TelemetryConfig().exporters(env) == ("console", "otlp")
    assert TelemetryConfig(traces="otlp").exporters(env) == ("otlp", "otlp")  # explicit settings win
    assert TelemetryConfig(metrics_port=0).exporters({}) == ("none", "prometheus")
    assert TelemetryConfig(traces="console").exporters({"OTEL_SDK_DISABLED": "true"}) == ("none", "none")


@pytest.mark.parametrize(
    ("telemetry", "message"),
    [
        ({"traces": "jaeger"}, "unknown traces exporter 'jaeger'"),
        ({"metrics": "statsd"}, "unknown metrics exporter 'statsd'"),
        ({"colour": "blue"}, "unknown telemetry option"),
    ],
)
def test_a_bad_telemetry_setting_fails_at_build_time(telemetry: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_container(telemetry=telemetry)


@pytest.mark.slow  # serves HTTP on 127.0.0.1
async def test_the_prometheus_endpoint_serves_the_nine_families_and_stops_with_the_container() -> None:
    container = build_container(telemetry={"metrics_port": 0})
    async with task_manager_scope(container) as manager:
        handle = await _handle(container.core.meter_provider())
        assert handle.prometheus is not None
        url = f"http://127.0.0.1:{handle.prometheus.port}/metrics"
        await manager.register_task(Task(execute=ok))
        await within(manager.wait())
        body = await asyncio.to_thread(_get, url)
    families = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE")}
    assert set(INSTRUMENT_NAMES) <= families, body
    assert re.search(r"^tasks_completed_total\{[^}]*\} 1\.0$", body, re.MULTILINE), body
    with pytest.raises(OSError):
        await asyncio.to_thread(_get, url)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


async def _handle(value: object) -> MeterProviderHandle:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        value = await value
    assert isinstance(value, MeterProviderHandle)
    return value


def test_the_service_name_gives_way_to_the_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert resource("workerctl-worker").attributes["service.name"] == "workerctl-worker"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,team=ops")
    assert resource("workerctl-worker").attributes["service.name"] == "from-attributes"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    assert resource("workerctl-worker").attributes["service.name"] == "from-env"
    assert resource("workerctl-worker").attributes["team"] == "ops"
