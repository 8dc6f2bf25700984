"""Telemetry across processes (docs/observability.md): a durable task enqueued inside a span
by one manager runs on a `workerctl worker` node in another process, sharing the real Redis;
the node's span, exported over OTLP/HTTP to a receiver on 127.0.0.1, continues the
producer's trace, and the node's Prometheus endpoint serves the nine metric families."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from pyworker.adapters.otel import INSTRUMENT_NAMES, OtelTracer
from pyworker.domain import DurableTask
from pyworker.entrypoints.container import open_task_manager
from tests.support.fault_app import registry
from tests.support.otlp_receiver import otlp_receiver
from tests.support.redis_servers import redis_available

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")
SHARED_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    """This test's own key prefix; only its keys are deleted afterwards."""
    name = f"pyworker-otel-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(SHARED_URL)
    try:
        for pattern in (f"{{{name}}}*", f"{name}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def start_worker(prefix: str, endpoint: str) -> tuple[subprocess.Popen[str], str, list[str], threading.Thread]:
    """A node exporting spans over OTLP (OTEL_* variables) and serving metrics on a free port."""
    env = {
        **os.environ,
        "FAULT_REDIS_URL": SHARED_URL,
        "FAULT_KEY": f"{prefix}:probe",
        "PYTHONPATH": str(ROOT),
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_SERVICE_NAME": "otel-test-node",
    }
    process = subprocess.Popen(
        [str(WORKERCTL), "worker", "--app", "tests.support.fault_app:registry", "--codec", "json",
         "--redis-url", SHARED_URL, "--redis-prefix", prefix, "--poll", "50ms", "--metrics-port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    log: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        log.append(line)
        if line.startswith("worker ready"):
            break
    else:
        raise AssertionError(f"worker exited before it was ready: {''.join(log)}")
    match = re.search(r"metrics=(http://\S+)", log[-1])
    assert match, log[-1]
    stderr = process.stderr
    drain = threading.Thread(target=lambda: log.extend(stderr), daemon=True)  # never a full pipe
    drain.start()
    return process, match.group(1), log, drain


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


async def test_the_consumer_span_continues_the_producers_trace_on_another_node(prefix: str) -> None:
    provider = TracerProvider()
    with otlp_receiver() as receiver:
        process, metrics_url, log, drain = start_worker(prefix, receiver.endpoint)
        try:
            async with open_task_manager(
                backend="redis", redis_url=SHARED_URL, redis_prefix=prefix, codec="json", durable_handlers=registry
            ) as producer:
                producer.set_tracer(OtelTracer(provider))
                with trace.get_tracer("producer", tracer_provider=provider).start_as_current_span("enqueue") as span:
                    await producer.register_durable_task(DurableTask(handler="record", message={}))
            trace_id = span.get_span_context().trace_id.to_bytes(16, "big")
            await asyncio.to_thread(
                receiver.wait_for, lambda: ("worker.task", trace_id) in receiver.spans(), seconds=20
            )
            body = await asyncio.to_thread(scrape, metrics_url)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            drain.join(5)
            assert process.stderr is not None
            process.stderr.close()
            provider.shutdown()
    assert code == 0, "".join(log)
    families = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE")}
    assert set(INSTRUMENT_NAMES) | {"durable_queue_depth"} <= families, body
    assert re.search(r"^tasks_completed_total\{[^}]*\} 1\.0$", body, re.MULTILINE), body
