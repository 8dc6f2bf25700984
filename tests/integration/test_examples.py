"""docs/examples end to end: a `workerctl worker --app tasks:registry` process runs every task producer.py enqueues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.lines import LinePump

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
WORKERCTL = Path(sys.executable).with_name("workerctl")
URL = "redis://127.0.0.1:6379/0"
#: Real-time bound on each wait, so a hang fails instead of blocking the suite.
BOUND = 30.0


def test_the_example_worker_runs_every_produced_task(redis_prefix: str) -> None:
    prefix = redis_prefix
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
    out, err = LinePump(worker.stdout), LinePump(worker.stderr)
    try:
        while not err.next_line("readiness banner").startswith("worker ready"):
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
            handler, task_id, *_ = out.next_line("a line per task").split()
            seen[uuid.UUID(task_id)] = handler
        assert sorted(seen.values()) == ["resize"] * 3 + ["send_email"] * 3
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=BOUND) == 0
        assert "worker: stopped\n" in err.rest()  # the process exited: its stderr reaches EOF
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=BOUND)
        out.join()
        err.join()
        worker.stdout.close()
        worker.stderr.close()
