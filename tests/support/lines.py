"""Reading a child process's output line by line, with every wait bounded."""

from __future__ import annotations

import queue
import threading
from typing import IO

BOUND = 30.0


class LinePump:
    """Copies a text stream into a queue on a daemon thread, so a test can wait for the
    next line with a bound (a blocked ``readline`` cannot be interrupted).
    """

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, what: str, timeout: float = BOUND) -> str:
        """The next line.

        Raises:
            AssertionError: none came within ``timeout`` seconds, or the stream ended.
        """
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {what} within {timeout:g}s") from None
        if line is None:
            raise AssertionError(f"the process closed its output before {what}")
        return line

    def rest(self) -> list[str]:
        """Every line still queued, up to the end of the stream (call after the process exited)."""
        self.join()
        return list(iter(self.lines.get_nowait, None))

    def join(self, timeout: float = BOUND) -> None:
        self._thread.join(timeout=timeout)
