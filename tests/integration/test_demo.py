"""workerctl demo, through main(argv) and as a subprocess: exit code, summary rows, every task accounted for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import pyworker.entrypoints.demo
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.demo_tasks import Kind, build_plan
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_INTERNAL

ACCOUNTED = re.compile(r"(\d+) registered = (\d+) completed \+ (\d+) failed \+ (\d+) cancelled: nothing lost")
WORKERCTL = Path(sys.executable).with_name("workerctl")


def status_rows(output: str) -> dict[str, int]:
    """The "Outcome by status" table as {status: tasks}."""
    rows = re.findall(r"^\W*(Completed|Failed|Cancelled)\W+(\d+)\W+\d+%", output, flags=re.MULTILINE)
    return {name: int(count) for name, count in rows}


def check_summary(output: str, registered: int) -> tuple[int, int, int]:
    """Assert the summary's status and queue rows and totals; returns (completed, failed, cancelled)."""
    match = ACCOUNTED.search(output)
    assert match is not None, output
    total, completed, failed, cancelled = map(int, match.groups())
    assert total == registered == completed + failed + cancelled
    assert status_rows(output) == {"Completed": completed, "Failed": failed, "Cancelled": cancelled}
    for queue in ("critical", "default", "bulk"):
        assert re.search(rf"^\W*{queue}\W+\d", output, flags=re.MULTILINE), queue
    assert re.search(r"^Throughput\s+[\d.]+ tasks/s", output, flags=re.MULTILINE)
    assert re.search(r"^Retries\s+[1-9]\d* scheduled", output, flags=re.MULTILINE)
    assert re.search(r"^Elapsed\s+[\d.]+ s", output, flags=re.MULTILINE)
    return completed, failed, cancelled


def test_demo_through_main_accounts_for_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--tasks", "60", "--no-progress", "--seed", "1", "--speed", "20"])

    output = capsys.readouterr().out
    assert code == 0, output
    completed, failed, cancelled = check_summary(output, registered=60)
    # The seed fixes the mix: doomed tasks fail, both cancel kinds are cancelled, the rest
    # (flaky ones included, after their retries) complete.
    plan = build_plan(60, seed=1, speed=20)
    assert failed == plan.count(Kind.DOOMED)
    assert cancelled == plan.count(Kind.CANCEL_QUEUED) + plan.count(Kind.CANCEL_RUNNING)
    assert completed == 60 - failed - cancelled
    assert "\x1b[" not in output  # plain output: no live view, no colour codes


def test_demo_fails_when_tasks_are_lost(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pyworker.entrypoints.demo, "WAIT_LIMIT", 0.01)  # give up long before the tasks finish

    code = main(["demo", "--tasks", "30", "--no-progress", "--seed", "2"])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert "LOST" in captured.out
    assert "task(s) lost" in captured.err


def test_demo_fails_on_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_hook(self: pyworker.entrypoints.demo.Tally, task: object, *args: object) -> None:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(pyworker.entrypoints.demo.Tally, "on_retry", broken_hook)

    code = main(["demo", "--tasks", "30", "--no-progress", "--seed", "3", "--speed", "20"])

    assert code == EXIT_INTERNAL
    assert "internal error" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_as_a_subprocess() -> None:
    completed = subprocess.run(
        [str(WORKERCTL), "demo", "--tasks", "40", "--no-progress", "--speed", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    check_summary(completed.stdout, registered=40)
    assert "rerun with --seed" in completed.stdout
