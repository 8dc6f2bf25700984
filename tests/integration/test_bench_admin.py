"""bench/admin.py (`make bench-admin`) on a tiny store, so the script does not rot: every figure printed, keys gone."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "admin.py"
EXPECTED = (
    "overview GET /", "ready, first page", "ready, page 2 (cursor after 1 pages)",
    "ready, 64 KiB payloads (?queue=exports)",
    "delayed, first page", "dead (DLQ), first page", "search by id GET /task?id= (+ redirect)",
    "task detail GET /task/<id>",
)  # fmt: skip
FIGURE = re.compile(r"^(\S.*?)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s.*\s(met|MISSED)$", re.MULTILINE)


def test_a_tiny_run_prints_every_figure_and_deletes_its_keys() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tasks", "4000", "--samples", "1", "--clients", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = {match.group(1) for match in FIGURE.finditer(done.stdout)}
    for name in EXPECTED:
        assert name in figures, done.stdout
    assert re.search(r"^\d+ of \d+ figures met the target", done.stdout, re.MULTILINE), done.stdout
    deleted = re.search(r"^deleted ([\d,]+) keys \((\S+)\)$", done.stdout, re.MULTILINE)
    assert deleted is not None, done.stdout
    assert int(deleted.group(1).replace(",", "")) > 4000
    client = redis.Redis()
    try:
        assert list(client.scan_iter(match=deleted.group(2), count=10_000)) == []
    finally:
        client.close()


def test_a_store_too_small_for_its_pages_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--tasks", "10"], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "--tasks must be at least 4,000" in done.stderr
    assert "Traceback" not in done.stderr
