"""HistorySampler: one sample per bucket just after it ends, labelled with the bucket, the last hour read back."""

from __future__ import annotations

import asyncio
import uuid

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application.admin import HistorySampler, Sample
from pyworker.application.admin.history import SAMPLE_CAPACITY, bucket_of
from pyworker.domain import BackendUnavailableError, DurableTask

START = 1_700_000_003.0  # 3 s into a bucket


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_each_sample_is_the_bucket_that_ended_and_holds_the_depths() -> None:
    clock = ManualClock(start=START)
    backend = InMemoryDurableBackend(clock=clock)
    sampler = HistorySampler(backend, backend.admin_history(), clock)
    await backend.enqueue_many([DurableTask(handler="h", payload=b"x", queue="a", id=uuid.uuid4()) for _ in range(3)])

    assert await sampler.sample_once() is True
    assert await sampler.sample_once() is False  # the same bucket: kept once
    assert await sampler.recent() == [Sample(1_699_999_990.0, ready=3, delayed=0, processing=0, dead=0)]
    assert bucket_of(START, 10.0) == 1_700_000_000.0


async def test_run_samples_every_bucket_and_goes_on_after_a_failure() -> None:
    clock = ManualClock(start=START)
    backend = InMemoryDurableBackend(clock=clock)
    store = backend.admin_history()
    failures = [BackendUnavailableError(reason="down")]
    add = store.add

    async def flaky(sample: Sample, interval: float, capacity: int) -> bool:
        if failures:
            raise failures.pop()
        return await add(sample, interval, capacity)

    store.add = flaky  # type: ignore[method-assign]
    sampler = HistorySampler(backend, store, clock)
    running = asyncio.get_running_loop().create_task(sampler.run())
    try:
        await settle()  # the first sample fails (logged), the loop sleeps to the next bucket
        for _ in range(3):
            clock.advance(10.0)
            await settle()
        assert [s.at for s in await sampler.recent()] == [1_700_000_000.0, 1_700_000_010.0, 1_700_000_020.0]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_recent_reads_one_hour_only() -> None:
    clock = ManualClock(start=START)
    backend = InMemoryDurableBackend(clock=clock)
    store = backend.admin_history()
    sampler = HistorySampler(backend, store, clock)
    for at in (1_700_000_000.0 - 10.0 * SAMPLE_CAPACITY - 10.0, 1_700_000_000.0 - 10.0 * SAMPLE_CAPACITY):
        await store.add(Sample(at, 0, 0, 0, 0), 10.0, SAMPLE_CAPACITY)
    assert [s.at for s in await sampler.recent()] == [1_700_000_000.0 - 10.0 * SAMPLE_CAPACITY]
