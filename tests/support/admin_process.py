"""A real `workerctl admin` process for the browser tests: started once it printed its URL, stopped by SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")
READY = "admin ready on "


class AdminProcess:
    """``workerctl admin <args>`` in ROOT with ``env``; ``url`` once it listens.

    Raises:
        AssertionError: it exited before its banner (its stderr is in the message).
    """

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(WORKERCTL), "admin", *args],
            cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        self.url = ""
        assert self.process.stderr is not None
        for line in self.process.stderr:  # synchronise on the readiness banner
            self.log.append(line)
            if line.startswith(READY):
                self.url = line.removeprefix(READY).split()[0]
                break
        else:
            raise AssertionError(f"workerctl admin exited before it was ready: {''.join(self.log)}")
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=timeout)
            self._drain.join(timeout=5)
            if self.process.stderr is not None:
                self.process.stderr.close()
