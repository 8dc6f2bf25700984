"""A benchmark's child process (a worker node, `workerctl admin`): what every bench does with one.

The bench reads the child's stderr until its readiness banner, then a thread keeps reading it
(so the child never blocks on a full pipe) into ``log``; ``rss_mib`` reads its resident memory;
``stop`` sends SIGTERM, then SIGKILL if it does not exit in 20 s.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading


class BenchProcess:
    """Holds ``process`` (stderr piped, text) and its ``log``; subclasses start it and wait for it."""

    process: subprocess.Popen[str]
    log: list[str]

    def drain_rest(self) -> None:
        """Keep reading stderr into ``log`` on a thread, once the banner was read."""
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(ValueError, OSError):
            for line in self.process.stderr:
                self.log.append(line)

    def rss_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not hasattr(self, "_drain") and self.process.stderr is not None:
            self.process.stderr.close()  # nobody reads it (a start-up figure, a failed start)
