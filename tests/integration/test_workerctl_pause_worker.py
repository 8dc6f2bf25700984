"""`workerctl durable pause` stops a running `workerctl worker` node from leasing; `resume` starts it again."""

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

from tests.integration.workerctl_support import HOST, PORT, URL, Store, unique_store

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = str(Path(sys.executable).with_name("workerctl"))
BOUND = 30.0
#: How long a paused node is watched for a run it must not make (a negative can only be bounded).
QUIET = 1.5


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-pause")


def pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_pause_stops_a_running_node_and_resume_restarts_it(store: Store) -> None:
    key = "{" + store.prefix + "}:fault"  # under the prefix: deleted with the test's keys
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAULT_REDIS_URL": URL, "FAULT_KEY": key}
    node = subprocess.Popen(
        [WORKERCTL, "worker", "--app", "tests.support.fault_app:registry", "--codec", "json", "--redis-url", URL,
         "--redis-prefix", store.prefix, "--poll", "50ms"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert node.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=pump, args=(node.stderr, lines), daemon=True)
    reader.start()
    probe = redis.Redis(host=HOST, port=PORT)
    try:
        while not (line := lines.get(timeout=BOUND) or "").startswith("worker ready"):
            assert line, "the worker exited before it was ready"
        assert store.cli("pause", "--apply").code == 0
        task_id = str(uuid.uuid4())
        enqueued = store.cli("enqueue", "--handler", "record", "--payload", "{}", "--id", task_id, "--apply")
        assert enqueued.code == 0, enqueued.err

        assert probe.blpop([f"{key}:progress"], timeout=QUIET) is None  # paused: nothing runs
        assert store.cli("get", "--id", task_id).json_lines()[0]["status"] == "ready"

        assert store.cli("resume", "--apply").code == 0
        ran = probe.blpop([f"{key}:progress"], timeout=BOUND)
        assert ran is not None, "the node did not lease after resume"
        value = ran[1]
        assert isinstance(value, bytes)
        assert value.decode().startswith(f"{task_id}:1:")
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=BOUND) == 0
    finally:
        probe.close()
        if node.poll() is None:
            node.kill()
            node.wait(timeout=BOUND)
        reader.join(timeout=BOUND)
        node.stderr.close()
