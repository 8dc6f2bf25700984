"""The durable dispatcher against a backend that goes away: start() waits for it for a bounded
time, the fetch loop backs off and logs once each way, lease renewal is one round trip."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.domain import BackendUnavailableError, DurableLease, DurableTask, TaskStatus
from tests.support.waits import next_result, until, within
from tests.unit.durable.durable_support import MakeDurable, Probe, email, registry_for


class FlakyBackend:
    """An InMemoryDurableBackend whose ping and dequeue fail while ``down`` is set, and
    which records extend calls."""

    def __init__(self, inner: InMemoryDurableBackend) -> None:
        self.inner = inner
        self.down = False
        self.pings = 0
        self.failed_dequeues = 0
        self.extend_many_calls: list[int] = []
        self.extend_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def ping(self) -> None:
        self.pings += 1
        if self.down:
            raise BackendUnavailableError(reason="connection refused")

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        if self.down:
            self.failed_dequeues += 1
            raise BackendUnavailableError(reason="connection refused")
        return await self.inner.dequeue(limit, lease)

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        if self.down:
            self.failed_dequeues += 1
            raise BackendUnavailableError(reason="connection refused")
        return await self.inner.wait_and_dequeue(limit, lease, max_wait)

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        self.extend_calls += 1
        return await self.inner.extend(lease, duration)

    async def extend_many(self, leases: Sequence[DurableLease], duration: float) -> list[DurableLease | BaseException]:
        self.extend_many_calls.append(len(leases))
        return await self.inner.extend_many(leases, duration)


class SleepingClock(ManualClock):
    """A ManualClock whose ``sleep`` records the delay and moves time by it at once, so
    a backoff loop runs at full speed and its delays can be read afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None
        self.auto = True  # False: sleep as a plain ManualClock (until advance())

    async def sleep(self, delay: float) -> None:
        if not self.auto:
            await super().sleep(delay)
            return
        self.sleeps.append(delay)
        if self.on_sleep is not None:
            self.on_sleep(delay)
        self.advance(delay)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> SleepingClock:
    return SleepingClock()


@pytest.fixture
def flaky(backend: InMemoryDurableBackend) -> FlakyBackend:
    return FlakyBackend(backend)


async def test_start_raises_backend_unavailable_after_the_connect_timeout(
    make_durable: MakeDurable, flaky: FlakyBackend, clock: SleepingClock
) -> None:
    flaky.down = True
    tm = make_durable(durable_backend=flaky, durable_handlers=registry_for(Probe()), durable_connect_timeout=1.0)
    start = clock.now()
    with pytest.raises(BackendUnavailableError):
        await within(tm.start())
    assert clock.sleeps == [pytest.approx(0.2), pytest.approx(0.4)]  # backoff from the poll interval ...
    assert flaky.pings == 3  # ... and one more try: the next wait (0.8 s) would pass the bound
    assert clock.now() - start <= 1.0


async def test_start_waits_for_a_backend_that_comes_back(
    make_durable: MakeDurable, flaky: FlakyBackend, clock: SleepingClock
) -> None:
    flaky.down = True
    probe = Probe()
    tm = make_durable(durable_backend=flaky, durable_handlers=registry_for(probe), durable_connect_timeout=30.0)

    def recover(delay: float) -> None:
        if flaky.pings >= 3:
            flaky.down = False

    clock.on_sleep = recover
    await within(tm.start())
    assert flaky.pings == 4  # three refusals, then the answer
    stream = tm.subscribe_results()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    assert (await next_result(stream)).status is TaskStatus.COMPLETED


async def test_fetch_loop_backs_off_and_logs_once_each_way(
    make_durable: MakeDurable, flaky: FlakyBackend, clock: SleepingClock, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    # No node heartbeats: their sleeps would mix with the backoff's in clock.sleeps.
    tm = make_durable(durable_backend=flaky, durable_handlers=registry_for(probe), durable_poll_interval=0.1,
                      durable_node_ttl=0)  # fmt: skip
    await within(tm.start())
    sleeps = clock.sleeps
    caplog.set_level(logging.WARNING, logger="pyworker.durable")
    flaky.down = True
    await until(lambda: flaky.failed_dequeues >= 6)
    lost = [r for r in caplog.records if "dequeue failed" in r.getMessage()]
    assert len(lost) == 1  # one line when the connection is lost, not one per try
    assert lost[0].exc_info is None  # a backend error, not a traceback
    backoff = sleeps[:6]
    assert backoff == sorted(backoff)  # growing ...
    assert backoff[0] == pytest.approx(0.1)
    assert backoff[3] == pytest.approx(0.8)  # ... doubling from the poll interval
    assert max(sleeps) <= 5.0  # ... and capped
    flaky.down = False
    stream = tm.subscribe_results()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    assert (await next_result(stream)).status is TaskStatus.COMPLETED
    back = [r for r in caplog.records if "works again" in r.getMessage()]
    assert len(back) == 1


async def test_renewal_extends_every_running_lease_in_one_round_trip(
    make_durable: MakeDurable, flaky: FlakyBackend, clock: SleepingClock
) -> None:
    clock.sleeps.clear()
    probe = Probe(block=True)
    tm = make_durable(
        durable_backend=flaky,
        durable_handlers=registry_for(probe),
        max_workers=3,
        durable_lease=10.0,
        durable_lease_renewal_interval=2.0,
    )
    await within(tm.start())
    for _ in range(3):
        await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    await until(lambda: tm.get_active_tasks() == 3)
    # Workers start one after the other (each wakes the next); a renewal that ran
    # before the last one started renewed fewer: count from here.
    flaky.extend_many_calls.clear()
    clock.advance(2.0)
    await until(lambda: len(flaky.extend_many_calls) == 1)
    assert flaky.extend_many_calls == [3]  # all three leases in one call
    assert flaky.extend_calls == 0
    clock.advance(2.0)
    await until(lambda: len(flaky.extend_many_calls) == 2)
    assert flaky.extend_many_calls == [3, 3]
    probe.release_all()
    await within(tm.wait())
