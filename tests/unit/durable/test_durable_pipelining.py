"""Durable throughput rules (docs/durable.md#tuning): a worker is free once its attempt ends, a batch
wakes every worker it needs, prefetched leases are renewed, and the batch follows the worker count."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskManager
from pyworker.application.config import MAX_AUTO_BATCH, DurableConfig
from pyworker.domain import DurableLease, DurableTask, TaskNotFoundError, TaskStatus
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, until, within
from tests.unit.durable.durable_support import DequeueCall, MakeDurable, Probe, RecordingBackend, registry_for


def task(label: str) -> DurableTask:
    return DurableTask(handler="send_email", message=SendEmailPayload(to=label), id=uuid.uuid4())


class GatedAcks(RecordingBackend):
    """Acks wait for ``gate``; extend_many calls are recorded (how many leases each)."""

    def __init__(self, inner: InMemoryDurableBackend) -> None:
        super().__init__(inner)
        self.gate = asyncio.Event()
        self.acks_waiting = 0
        self.extends: list[int] = []

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> Sequence[BaseException | None]:
        self.acks_waiting += len(leases)
        await self.gate.wait()
        self.acks_waiting -= len(leases)
        return list(await self.inner.ack_many(leases, outputs))

    async def extend_many(self, leases: Sequence[DurableLease], duration: float) -> list[DurableLease | BaseException]:
        self.extends.append(len(leases))
        return list(await self.inner.extend_many(leases, duration))


async def test_a_worker_takes_the_next_task_while_the_last_ack_is_on_its_way(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    gated = GatedAcks(backend)
    probe = Probe()
    tm = make_durable(durable_backend=gated, durable_handlers=registry_for(probe), max_workers=1)
    stream = tm.subscribe_results()
    await tm.start()
    first = await tm.register_durable_task(task("first"))
    await until(lambda: gated.acks_waiting == 1)
    second = await tm.register_durable_task(task("second"))
    # One worker, its first ack still blocked: the second task is leased and runs anyway.
    await until(lambda: len(probe.calls) == 2)
    assert [m.to for m in probe.messages] == ["first", "second"]
    # Nothing is published before its ack.
    assert not tm.get_task(first).status.is_terminal
    assert not tm.get_task(second).status.is_terminal
    gated.gate.set()
    results = {(await next_result(stream)).task.id: None for _ in range(2)}
    assert set(results) == {first, second}
    assert [tm.get_task(i).status for i in (first, second)] == [TaskStatus.COMPLETED, TaskStatus.COMPLETED]
    await within(tm.wait())


async def test_one_batch_starts_every_worker_it_needs(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    recording = RecordingBackend(backend)
    probe = Probe(block=True)
    tm = make_durable(durable_backend=recording, durable_handlers=registry_for(probe), max_workers=20)
    for n in range(20):
        await tm.register_durable_task(task(f"t{n}"))
    await tm.start()
    # Each woken worker wakes the next before it runs its own task: all twenty run at once.
    await until(lambda: tm.get_active_tasks() == 20)
    assert recording.dequeues[0] == DequeueCall(limit=20, returned=20)  # the batch follows max_workers
    assert sorted(m.to for m in probe.messages) == sorted(f"t{n}" for n in range(20))
    probe.release_all()
    await within(tm.wait())


async def test_prefetched_leases_are_renewed_while_they_wait_for_a_worker(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    gated = GatedAcks(backend)
    gated.gate.set()
    probe = Probe(block=True)
    tm = make_durable(
        durable_backend=gated,
        durable_handlers=registry_for(probe),
        max_workers=1,
        durable_prefetch=1,
        durable_lease=10.0,
        durable_lease_renewal_interval=4.0,
    )
    await tm.start()
    running = await tm.register_durable_task(task("running"))
    await within(probe.started.wait())
    waiting = await tm.register_durable_task(task("waiting"))
    await until(lambda: backend_processing(backend, 2))
    await until(lambda: held_here(tm, waiting))  # the prefetched lease reached this node
    clock.advance(4.0)
    await until(lambda: gated.extends == [2])  # the running lease and the prefetched one
    clock.advance(4.0)
    await until(lambda: gated.extends == [2, 2])
    clock.advance(4.0)  # 12 s after the lease was granted: only renewal kept it
    await until(lambda: gated.extends == [2, 2, 2])
    probe.release_all()
    await within(tm.wait())
    assert [m.to for m in probe.messages] == ["running", "waiting"]
    assert [tm.get_task(i).status for i in (running, waiting)] == [TaskStatus.COMPLETED, TaskStatus.COMPLETED]
    assert probe.attempts == [1, 1]  # neither lease was lost and redelivered


def held_here(tm: TaskManager, task_id: uuid.UUID) -> bool:
    try:
        tm.get_task(task_id)
    except TaskNotFoundError:
        return False
    return True


async def backend_processing(backend: InMemoryDurableBackend, count: int) -> bool:
    return (await backend.stats()).total_processing == count


def test_the_batch_follows_the_worker_count_unless_set() -> None:
    config = DurableConfig()
    assert [config.batch_for(n) for n in (1, 8, 64)] == [1, 8, 64]
    assert config.batch_for(10_000) == MAX_AUTO_BATCH
    assert DurableConfig(batch_size=5).batch_for(64) == 5
    assert DurableConfig(batch_size=-3).batch_for(7) == 7


def test_prefetch_defaults_to_none_held_beyond_the_workers() -> None:
    assert DurableConfig().prefetch == 0

