"""A real `workerctl admin` process for the browser tests: started once it printed its URL, stopped by SIGTERM."""

from __future__ import annotations

from tests.support.worker_process import WorkerProcess


class AdminProcess(WorkerProcess):
    """``workerctl admin <args>`` in ROOT with ``env``; ``url`` once it listens.

    Raises:
        AssertionError: it exited before its banner (its stderr is in the message).
    """

    COMMAND = "admin"
    READY = "admin ready on "
    url = ""

    def ready(self, banner: str) -> None:
        self.url = banner.removeprefix(self.READY).split()[0]

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` s; its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.kill()
            else:
                self._close()
