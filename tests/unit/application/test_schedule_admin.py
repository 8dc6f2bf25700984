"""ScheduleAdmin: the operator's pause, resume and history of durable schedules, over the in-memory store."""

from __future__ import annotations

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application.schedules import ScheduleAdmin
from pyworker.domain import DurableTask
from pyworker.domain.schedule import FireOutcome, InvalidScheduleNameError, tick_task_id


async def test_pause_resume_and_history_reach_the_shared_store() -> None:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    store = backend.schedule_store()
    admin = ScheduleAdmin(store)
    await admin.pause(" zeta ")
    await admin.pause("alpha")
    assert await admin.paused() == (False, ["alpha", "zeta"])
    task = DurableTask("report", payload=b"{}", id=tick_task_id("zeta", 60.0))
    assert (await store.fire("zeta", 60.0, task, skip_if_running=False, history=10)).outcome is FireOutcome.PAUSED
    await admin.resume("zeta")
    await admin.pause()
    assert await admin.paused() == (True, ["alpha"])
    await admin.resume()
    task = DurableTask("report", payload=b"{}", id=tick_task_id("zeta", 120.0))
    assert (await store.fire("zeta", 120.0, task, skip_if_running=False, history=10)).outcome is FireOutcome.FIRED
    assert [r.tick for r in await admin.history("zeta")] == [120.0]
    for bad in ("", "two words"):
        with pytest.raises(InvalidScheduleNameError):
            await admin.history(bad)
        with pytest.raises(InvalidScheduleNameError):
            await admin.pause(bad)
