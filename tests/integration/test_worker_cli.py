"""`workerctl worker` at start: a bad URL, Redis unreachable or not Redis, a Redis that comes up late."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_UNAVAILABLE, EXIT_USAGE
from tests.support.lines import LinePump
from tests.support.redis_servers import free_port, redis_available, start_redis_server

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")
APP = ["worker", "--app", "tests.support.fault_app:registry", "--codec", "json"]
#: Real-time bound on each wait, so that a hang fails instead of blocking the suite.
BOUND = 30.0


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def not_redis() -> Iterator[str]:
    """A loopback TCP server that answers every connection like a web server would."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                try:
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_unreachable_redis_through_main_exits_3_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"

    code = main([*APP, "--redis-url", url, "--connect-timeout", "300ms"])

    captured = capsys.readouterr()
    assert code == EXIT_UNAVAILABLE
    line = one_line(captured.err)
    assert line.startswith("workerctl: durable backend unavailable: redis://:***@127.0.0.1:")
    assert "s3cret" not in captured.err
    assert "worker ready" not in captured.out + captured.err


def test_a_port_that_is_not_redis_exits_3_with_one_line(not_redis: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*APP, "--redis-url", not_redis, "--connect-timeout", "300ms"])

    captured = capsys.readouterr()
    assert code == EXIT_UNAVAILABLE
    assert one_line(captured.err).startswith("workerctl: durable backend unavailable: ")
    assert "Traceback" not in captured.err


def _workerctl(*args: str, timeout: float = BOUND) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WORKERCTL), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_installed_workerctl_refuses_a_bad_url_in_one_line() -> None:
    completed = _workerctl(*APP, "--redis-url", "http://127.0.0.1:6379/0")
    assert completed.returncode == EXIT_USAGE
    assert "--redis-url" in one_line(completed.stderr)


@pytest.mark.slow
def test_installed_workerctl_gives_up_on_an_unreachable_redis(not_redis: str) -> None:
    for url in (f"redis://127.0.0.1:{free_port()}/0", not_redis):
        completed = _workerctl(*APP, "--redis-url", url, "--connect-timeout", "0")
        assert completed.returncode == EXIT_UNAVAILABLE, completed.stderr
        assert one_line(completed.stderr).startswith("workerctl: durable backend unavailable: ")


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.skipif(not redis_available(), reason="needs redis-server")
def test_the_worker_waits_for_a_late_redis_and_says_ready_only_then(tmp_path: Path) -> None:
    port = free_port()
    prefix = f"pyworker-late-{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAULT_REDIS_URL": f"redis://127.0.0.1:{port}/0", "FAULT_KEY": "k"}
    node = subprocess.Popen(
        [str(WORKERCTL), "-v", *APP, "--redis-url", f"redis://127.0.0.1:{port}/0", "--redis-prefix", prefix,
         "--connect-timeout", "60s", "--lease", "2s", "--batch", "4", "--concurrency", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert node.stderr is not None
    lines = LinePump(node.stderr)
    server = None
    try:
        while "durable connect failed" not in (line := lines.next_line("a retry")):
            assert not line.startswith("worker ready"), line
        server = start_redis_server(tmp_path / "redis", port=port)
        while not (line := lines.next_line("the readiness banner")).startswith("worker ready"):
            pass
        words = line.split()
        for part in (f"url=redis://127.0.0.1:{port}/0", f"prefix={prefix}", "concurrency=2", "lease=2s", "batch=4"):
            assert part in words, (part, line)
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=BOUND) == 0
        assert "worker: stopped\n" in lines.rest()
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=BOUND)
        lines.join()
        node.stderr.close()
        if server is not None:
            server.stop()
