"""`workerctl serve` telemetry (docs/observability.md, docs/grpc.md): ``--metrics-port 0``
serves the nine task metric families on 127.0.0.1 (the ready line names the URL), and with
``--traces otlp`` the span of a task registered by a call carrying ``traceparent`` continues
the caller's trace."""

from __future__ import annotations

import re
import signal
import urllib.request
from typing import Any

import grpc
import pytest

from pyworker.adapters.otel import INSTRUMENT_NAMES
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2, worker_pb2_grpc
from tests.support.otlp_receiver import otlp_receiver
from tests.support.serve_process import BOUND, workerctl_serve

pytestmark = pytest.mark.slow

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
TRACEPARENT = f"00-{TRACE_ID:032x}-{0xB7AD6B7169203331:016x}-01"


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=BOUND) as response:
        body: bytes = response.read()
    return body.decode()


def test_serve_exports_metrics_and_continues_the_callers_trace() -> None:
    with otlp_receiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
        with workerctl_serve("--metrics-port", "0", "--traces", "otlp", env=env) as served:
            match = re.search(r" traces=otlp metrics=(http://127\.0\.0\.1:\d+/metrics)$", served.ready)
            assert match, served.ready
            with grpc.insecure_channel(served.target) as channel:
                stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
                task = worker_pb2.Task(name="send_email")
                task.payload.Pack(payload_pb2.SendEmailPayload(to="ann@example.com"))
                (task_id,) = stub.RegisterTasks(
                    worker_pb2.RegisterTasksRequest(tasks=[task]), metadata=[("traceparent", TRACEPARENT)],
                    timeout=BOUND,
                ).ids
                request = worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True)
                assert [r.id for r in stub.StreamResults(request, timeout=BOUND)] == [task_id]
            receiver.wait_for(
                lambda: ("worker.task", TRACE_ID.to_bytes(16, "big")) in receiver.spans(), seconds=BOUND
            )
            body = scrape(match.group(1))
            served.process.send_signal(signal.SIGTERM)
            assert served.process.wait(timeout=BOUND) == 0
    families = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE")}
    assert set(INSTRUMENT_NAMES) <= families, body
    assert re.search(r"^tasks_completed_total\{[^}]*\} 1\.0$", body, re.MULTILINE), body
