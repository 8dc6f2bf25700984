"""docs/examples end to end: a `workerctl worker --app tasks:registry` process runs every task producer.py enqueues."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis

from pyworker.adapters.redis import RedisKeys

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
WORKERCTL = Path(sys.executable).with_name("workerctl")
URL = "redis://127.0.0.1:6379/0"
#: Real-time bound on each wait, so a hang fails instead of blocking the suite.
BOUND = 30.0


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue[str | None], what: str) -> str:
    try:
        line = lines.get(timeout=BOUND)
    except queue.Empty:
        raise AssertionError(f"no {what} within {BOUND}s") from None
    if line is None:
        raise AssertionError(f"the worker closed its output before {what}")
    return line


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(URL)
    try:
        client.ping()
    except (redis.ConnectionError, OSError):
        client.close()
        pytest.skip("no Redis server on 127.0.0.1:6379")
    name = f"pyworker-examples-{uuid.uuid4().hex}"
    yield name
    try:
        keys = list(client.scan_iter(match=RedisKeys(name).pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_the_example_worker_runs_every_produced_task(prefix: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [str(WORKERCTL), "worker", "--app", "tasks:registry", "--redis-url", URL, "--redis-prefix", prefix],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stderr is not None
    out: queue.Queue[str | None] = queue.Queue()
    err: queue.Queue[str | None] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(worker.stdout, out), daemon=True),
        threading.Thread(target=_pump, args=(worker.stderr, err), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        while not _next_line(err, "readiness banner").startswith("worker ready"):
            pass
        produced = subprocess.run(
            [sys.executable, "producer.py", "--count", "6", "--redis-url", URL, "--redis-prefix", prefix],
            cwd=EXAMPLES,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
            check=True,
        )
        ids = {uuid.UUID(line) for line in produced.stdout.split()}
        assert len(ids) == 6
        seen: dict[uuid.UUID, str] = {}
        while set(seen) != ids:
            handler, task_id, *_ = _next_line(out, "a line per task").split()
            seen[uuid.UUID(task_id)] = handler
        assert sorted(seen.values()) == ["resize"] * 3 + ["send_email"] * 3
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=BOUND) == 0
        pumps[1].join(timeout=BOUND)  # the process exited: its stderr reaches EOF
        rest = list(iter(err.get_nowait, None))
        assert "worker: stopped\n" in rest
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=BOUND)
        for pump in pumps:
            pump.join(timeout=BOUND)
        worker.stdout.close()
        worker.stderr.close()
