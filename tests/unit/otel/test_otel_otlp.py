"""The OTLP/HTTP exporters (docs/observability.md, exporters) against a receiver on 127.0.0.1:
spans and the nine metrics arrive, the endpoint given as a setting or through OTEL_* variables."""

from __future__ import annotations

import socket

import pytest

from pyworker.adapters.otel import INSTRUMENT_NAMES
from pyworker.adapters.otel.exporters import meter_provider
from pyworker.domain import ConfigurationError, Task, TaskContext
from pyworker.entrypoints.container import build_container, task_manager_scope
from tests.support.otlp_receiver import otlp_receiver
from tests.support.waits import within

pytestmark = pytest.mark.slow  # starts an HTTP receiver on 127.0.0.1


async def ok(ctx: TaskContext) -> str:
    return "ok"


async def test_spans_and_metrics_arrive_over_otlp_http() -> None:
    with otlp_receiver() as receiver:
        container = build_container(
            telemetry={"traces": "otlp", "metrics": "otlp", "otlp_endpoint": receiver.endpoint, "metric_interval": 60}
        )
        async with task_manager_scope(container) as manager:
            await manager.register_task(Task(execute=ok, name="shipped"))
            await within(manager.wait())
        # Leaving the scope shut the providers down: the batch and the last metrics are flushed.
        receiver.wait_for(lambda: receiver.spans() and set(INSTRUMENT_NAMES) <= receiver.metric_names())
    assert [name for name, _ in receiver.spans()] == ["worker.task"]


async def test_the_otel_endpoint_variable_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        container = build_container()
        async with task_manager_scope(container) as manager:
            await manager.register_task(Task(execute=ok))
            await within(manager.wait())
        receiver.wait_for(lambda: bool(receiver.spans()))


def test_a_port_in_use_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigurationError, match=r"cannot serve metrics on 127\.0\.0\.1"):
            meter_provider("prometheus", port=taken.getsockname()[1])
