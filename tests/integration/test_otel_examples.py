"""The telemetry examples in docs/examples run as written and print spans and metrics to stdout
(the OTLP one pushes to a receiver on 127.0.0.1 given through OTEL_EXPORTER_OTLP_ENDPOINT)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyworker.adapters.otel import INSTRUMENT_NAMES
from tests.support.otlp_receiver import otlp_receiver

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def run(name: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tracing_prints_one_span_per_attempt() -> None:
    lines = run("tracing.py").splitlines()
    assert [line.split()[:4] for line in lines] == [
        ["span", "start", "flaky", "attempt=1"],
        ["span", "end", "flaky", "attempt=1"],
        ["span", "start", "flaky", "attempt=2"],
        ["span", "end", "flaky", "attempt=2"],
    ]
    assert "RuntimeError" in lines[1]


def test_otel_tracing_prints_two_attempts_in_one_trace() -> None:
    spans = [json.loads(chunk) for chunk in re.split(r"(?m)^(?=\{)", run("otel_tracing.py")) if chunk.strip()]
    tasks = [span for span in spans if span["name"] == "worker.task"]
    assert [span["attributes"]["task.attempt"] for span in tasks] == [1, 2]
    assert {span["context"]["trace_id"] for span in spans} == {spans[0]["context"]["trace_id"]}
    assert tasks[0]["status"]["status_code"] == "ERROR"
    assert tasks[0]["attributes"]["task.correlation_id"] == "req-42"


def test_otel_metrics_prints_the_nine_metrics() -> None:
    values = {line.split()[0]: line.split()[2:] for line in run("otel_metrics.py").splitlines()}
    assert set(values) == set(INSTRUMENT_NAMES)
    assert values["tasks_completed_total"] == ["5"]
    assert values["tasks_failed_total"] == ["1"]
    assert values["tasks_retried_total"] == ["1"]
    assert values["task_latency_seconds"][0] == "count=6"


def test_otel_metrics_otlp_pushes_to_the_collector() -> None:
    with otlp_receiver() as receiver:
        out = run("otel_metrics_otlp.py", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
        receiver.wait_for(lambda: set(INSTRUMENT_NAMES) <= receiver.metric_names() and len(receiver.spans()) == 10)
    assert "completed=10" in out
