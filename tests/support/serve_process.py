"""`workerctl serve` as a subprocess on a free loopback port, for end-to-end gRPC tests."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import attrs

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")
#: Real-time bound on each wait, so that a hang fails instead of blocking the suite.
BOUND = 30.0


@attrs.define
class ServeProcess:
    process: subprocess.Popen[str]
    target: str
    lines: queue.Queue[str | None]
    ready: str = ""

    def next_line(self, what: str) -> str:
        try:
            line = self.lines.get(timeout=BOUND)
        except queue.Empty:
            raise AssertionError(f"no {what} from workerctl serve within {BOUND}s") from None
        assert line is not None, f"workerctl serve exited before {what}"
        return line


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@contextlib.contextmanager
def workerctl_serve(*args: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """Start ``workerctl serve --address 127.0.0.1:0 ARGS`` and wait for its ready line."""
    process = subprocess.Popen(
        [str(WORKERCTL), "serve", "--address", "127.0.0.1:0", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True)
    pump.start()
    try:
        served = ServeProcess(process, "", lines)
        while not (line := served.next_line("a ready line")).startswith("serve ready"):
            pass
        match = re.search(r"address=(\S+)", line)
        assert match, line
        served.target = match.group(1)
        served.ready = line
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=BOUND)
        pump.join(BOUND)
        process.stderr.close()
