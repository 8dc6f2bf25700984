"""Fixtures for the application unit tests: managers on a ManualClock, stopped at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import TaskManager
from tests.support.waits import within
from tests.unit.application.support import MakeManager


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_manager(clock: ManualClock) -> AsyncIterator[MakeManager]:
    """Build TaskManagers on the test's ManualClock (one worker, no rate limit unless
    told otherwise); every one is stopped at teardown."""
    managers: list[TaskManager] = []

    def make(**kwargs: Any) -> TaskManager:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("max_workers", 1)
        kwargs.setdefault("tasks_per_second", 0)
        manager = TaskManager(**kwargs)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await within(manager.stop_now())


@pytest.fixture
async def tm(make_manager: MakeManager) -> TaskManager:
    """A started manager: one worker, unlimited rate, ManualClock."""
    manager = make_manager()
    await manager.start()
    return manager
