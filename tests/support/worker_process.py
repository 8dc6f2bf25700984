"""A real `workerctl worker` process for the multi-process tests: started once it printed
its readiness banner, its stderr drained on a thread, stopped by SIGTERM or SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKERCTL = Path(sys.executable).with_name("workerctl")


class WorkerProcess:
    """``workerctl <COMMAND> <args>`` (``worker``; a subclass names another) in ROOT with
    ``env``; returns once it printed the line that starts with ``READY``.

    Raises:
        AssertionError: it exited before its banner (its stderr is in the message).
    """

    COMMAND = "worker"
    READY = "worker ready"

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(WORKERCTL), self.COMMAND, *args],
            cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        assert self.process.stderr is not None
        for line in self.process.stderr:  # synchronise on the readiness banner
            self.log.append(line)
            if line.startswith(self.READY):
                self.ready(line)
                break
        else:
            raise AssertionError(f"workerctl {self.COMMAND} exited before it was ready: {''.join(self.log)}")
        # Keep draining stderr so a chatty worker never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def ready(self, banner: str) -> None:
        """Read what the banner says (nothing for a worker)."""

    def _read_rest(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._close()
        return code

    def _close(self) -> None:
        self._drain.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
