"""`workerctl worker` at start, as the installed console script: a bad URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyworker.entrypoints.errors import EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")
APP = ["worker", "--app", "tests.support.fault_app:registry", "--codec", "json"]
#: Real-time bound on each wait, so that a hang fails instead of blocking the suite.
BOUND = 30.0


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


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
