"""The default clock, and the reader the hot path uses for it (docs/architecture.md, hot path)."""

from __future__ import annotations

import time

from pyworker.adapters.clock import ManualClock, SystemClock
from pyworker.application.clock import LoopClock, now_reader


class _Shifted(LoopClock):
    def now(self) -> float:
        return 42.0


def test_the_default_clock_is_read_through_time_time_itself() -> None:
    # LoopClock.now() is time.time(): the reader skips the Python call, nothing else.
    assert now_reader(LoopClock()) is time.time
    assert now_reader(SystemClock()) is time.time
    before = time.time()
    assert before <= LoopClock().now() <= time.time()


def test_any_other_clock_is_read_through_its_own_now() -> None:
    manual = ManualClock(start=100.0)
    read = now_reader(manual)
    assert read() == 100.0
    manual.advance(150.0)
    assert read() == 250.0
    assert now_reader(_Shifted())() == 42.0
