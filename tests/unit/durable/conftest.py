"""Fixtures for the durable-mode manager tests: a ManualClock shared by the backend and the managers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import ProtoDurableCodec
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskManager
from tests.support.waits import within
from tests.unit.durable.durable_support import MakeDurable


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def backend(clock: ManualClock) -> AsyncIterator[InMemoryDurableBackend]:
    store = InMemoryDurableBackend(clock=clock)
    yield store
    await store.close()


@pytest.fixture
async def make_durable(clock: ManualClock, backend: InMemoryDurableBackend) -> AsyncIterator[MakeDurable]:
    """Build durable-mode TaskManagers on the test's clock and backend (proto codec, one
    worker, no rate limit, unless told otherwise); every one is stopped at teardown."""
    managers: list[TaskManager] = []

    def make(**kwargs: Any) -> TaskManager:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("durable_backend", backend)
        kwargs.setdefault("durable_codec", ProtoDurableCodec())
        kwargs.setdefault("max_workers", 1)
        kwargs.setdefault("tasks_per_second", 0)
        manager = TaskManager(**kwargs)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await within(manager.stop_now())
