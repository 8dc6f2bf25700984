"""Durable life cycle (docs/durable.md#taskmanager-in-durable-mode, docs/differences.md): wait, graceful and hard
stop, batches, weights, queues, leases."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.domain import DurableState, DurableTask, TaskNotFoundError, TaskStatus, WaitTimeoutError
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, settle, until, within
from tests.unit.durable.durable_support import DequeueCall, MakeDurable, Probe, RecordingBackend, registry_for


def task(label: str, queue: str = "", **kwargs: Any) -> DurableTask:
    return DurableTask(handler="send_email", message=SendEmailPayload(to=label), queue=queue, id=uuid.uuid4(), **kwargs)




def labels(probe: Probe) -> list[str]:
    return [message.to for message in probe.messages]


async def test_wait_covers_in_flight_leases(make_durable: MakeDurable, clock: ManualClock) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe))
    await within(tm.wait())  # nothing leased: returns at once
    await tm.start()
    stream = tm.subscribe_results()
    first = await tm.register_durable_task(task("a"))
    await within(probe.started.wait())
    waiter = asyncio.create_task(tm.wait(timeout=10))
    await settle()
    assert not waiter.done()
    clock.advance(10)
    with pytest.raises(WaitTimeoutError):
        await within(waiter)
    waiter = asyncio.create_task(tm.wait())
    await settle()
    assert not waiter.done()
    probe.release_all()
    await within(waiter)
    # Everything wait promises has happened: the result is published, the lease acked.
    published = stream.get_nowait()
    assert published is not None
    assert (published.task.id, published.task.status) == (first, TaskStatus.COMPLETED)
    assert tm.get_task(first).status is TaskStatus.COMPLETED


async def test_stop_graceful_finishes_running_tasks_and_leases_nothing_new(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe))
    await tm.start()
    stream = tm.subscribe_results()
    running = await tm.register_durable_task(task("running"))
    await within(probe.started.wait())
    waiting = await tm.register_durable_task(task("waiting"))
    stopper = asyncio.create_task(tm.stop_graceful())
    await settle()
    assert not stopper.done()  # the running task is not interrupted
    late = await backend.enqueue(task("late", payload=SendEmailPayload(to="late").SerializeToString()))
    probe.release_all()
    await within(stopper)
    result = await next_result(stream)
    assert (result.task.id, result.task.status) == (running, TaskStatus.COMPLETED)
    assert labels(probe) == ["running"]
    for task_id in (waiting, late):
        record = await backend.get(task_id)
        assert (record.state, record.attempts) == (DurableState.READY, 0)


async def test_stop_graceful_hands_unstarted_leases_back_at_once(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    # One durable worker, three leases prefetched beyond it: they wait unstarted on this node.
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), durable_batch_size=8, max_workers=1, durable_prefetch=3)
    await tm.start()
    first = await tm.register_durable_task(task("first"))
    await within(probe.started.wait())
    second, third, fourth = [await tm.register_durable_task(task(label)) for label in ("2nd", "3rd", "4th")]
    await until(lambda: backend_processing(backend, 4))
    stopper = asyncio.create_task(tm.stop_graceful())
    # Handed back before the running task finishes: ready again at once, attempt not counted.
    await until(lambda: backend_ready(backend, 3))
    assert not stopper.done()
    for task_id in (second, third, fourth):
        record = await backend.get(task_id)
        assert (record.state, record.attempts) == (DurableState.READY, 0)
    assert (await backend.get(first)).state is DurableState.PROCESSING
    probe.release_all()
    await within(stopper)
    with pytest.raises(TaskNotFoundError):
        await backend.get(first)
    assert labels(probe) == ["first"]


async def test_set_max_workers_grows_the_durable_workers(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), durable_batch_size=8, max_workers=1)
    await tm.start()
    await tm.register_durable_task(task("first"))
    await within(probe.started.wait())
    await tm.register_durable_task(task("second"))
    tm.set_max_workers(2)
    await until(lambda: len(probe.calls) == 2)  # the second runs while the first still blocks
    assert sorted(labels(probe)) == ["first", "second"]
    probe.release_all()
    await within(tm.wait())


async def backend_ready(backend: InMemoryDurableBackend, count: int) -> bool:
    return (await backend.stats()).total_ready == count


async def backend_processing(backend: InMemoryDurableBackend, count: int) -> bool:
    return (await backend.stats()).total_processing == count


async def test_stop_now_hands_running_tasks_back_ready_at_once(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), max_workers=2)
    await tm.start()
    ids = [await tm.register_durable_task(task(label, retries=3)) for label in ("a", "b")]
    await until(lambda: len(probe.calls) == 2)
    await within(tm.stop_now())
    assert probe.cancelled == 2
    stats = await backend.stats()
    assert (stats.total_ready, stats.total_delayed, stats.total_processing, stats.dead) == (2, 0, 0, 0)
    for task_id in ids:
        record = await backend.get(task_id)
        assert (record.state, record.attempts, record.last_error) == (DurableState.READY, 1, "")


async def test_stop_graceful_during_a_dequeue_keeps_the_granted_leases(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    """Leases granted by a dequeue that was still in flight when the stop began are handed back."""

    class SlowDequeue(RecordingBackend):
        def __init__(self, inner: InMemoryDurableBackend) -> None:
            super().__init__(inner)
            self.granted = asyncio.Event()
            self.reply = asyncio.Event()

        async def dequeue(self, limit: int, lease: float) -> Any:
            leases = await self.inner.dequeue(limit, lease)
            if leases:
                self.granted.set()
                await self.reply.wait()  # the reply is still on the wire
            return leases

    slow = SlowDequeue(backend)
    tm = make_durable(durable_backend=slow, durable_handlers=registry_for(Probe()))
    task_id = await tm.register_durable_task(task("in flight"))
    await tm.start()
    await within(slow.granted.wait())
    stopper = asyncio.create_task(tm.stop_graceful())
    await settle()
    slow.reply.set()
    await within(stopper)
    record = await backend.get(task_id)
    assert (record.state, record.attempts) == (DurableState.READY, 0), "lease stranded until it expires"


async def test_batch_dequeue_follows_the_queue_weights(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    recording = RecordingBackend(backend)
    probe = Probe()
    tm = make_durable(
        durable_backend=recording,
        durable_handlers=registry_for(probe),
        queue_weights={"a": 2, "b": 1},
        max_workers=6,
        durable_batch_size=16,
    )
    for label in ("a1", "a2", "a3"):
        await tm.register_durable_task(task(label, queue="a"))
    for label in ("b1", "b2", "b3"):
        await tm.register_durable_task(task(label, queue="b"))
    await tm.start()
    await until(lambda: len(probe.calls) == 6)
    assert recording.dequeues[0] == DequeueCall(limit=6, returned=6)  # one round trip for the lot
    assert labels(probe) == ["a1", "a2", "b1", "a3", "b2", "b3"]
    await within(tm.wait())


async def test_leases_never_exceed_free_workers_or_the_batch_size(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    recording = RecordingBackend(backend)
    probe = Probe(block=True)
    tm = make_durable(
        durable_backend=recording, durable_handlers=registry_for(probe), max_workers=4, durable_batch_size=3
    )
    for n in range(7):
        await tm.register_durable_task(task(f"t{n}"))
    await tm.start()
    await until(lambda: len(probe.calls) == 4)
    await settle()
    assert recording.dequeues == [DequeueCall(3, 3), DequeueCall(1, 1)]
    stats = await backend.stats()
    assert (stats.total_processing, stats.total_ready) == (4, 3)
    probe.release_all()
    await until(lambda: len(probe.calls) == 7)
    await within(tm.wait())
    assert all(call.limit <= 3 for call in recording.dequeues)


async def test_durable_queues_limits_what_a_node_leases(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe_b, probe_a = Probe(), Probe()
    only_b = make_durable(durable_handlers=registry_for(probe_b), durable_queues=["b"])
    stream_b = only_b.subscribe_results()
    a_task = await only_b.register_durable_task(task("for a", queue="a"))  # enqueue is not limited
    b_task = await only_b.register_durable_task(task("for b", queue="b"))
    await only_b.start()
    assert (await next_result(stream_b)).task.id == b_task
    await settle()
    assert labels(probe_b) == ["for b"]
    record = await backend.get(a_task)
    assert (record.state, record.attempts) == (DurableState.READY, 0)
    # Another node on the same backend serves queue a. (The in-memory backend keeps one
    # queue filter, so this node's start sets it to ["a"].)
    only_a = make_durable(durable_handlers=registry_for(probe_a), durable_queues=["a"])
    stream_a = only_a.subscribe_results()
    await only_a.start()
    assert (await next_result(stream_a)).task.id == a_task
    assert labels(probe_a) == ["for a"]


async def test_lease_renewal_keeps_a_long_task_leased(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), durable_lease=10, durable_lease_renewal_interval=4)
    await tm.start()
    stream = tm.subscribe_results()
    start = clock.now()
    task_id = await tm.register_durable_task(task("long"))
    await within(probe.started.wait())
    assert (await backend.get(task_id)).lease_expires_at == pytest.approx(start + 10)
    for step in (1, 2, 3):
        clock.advance(4)
        await until(functools.partial(lease_expiry_is, backend, task_id, start + 4 * step + 10))
    assert clock.now() > start + 10  # past the first lease's expiry
    # Another node dequeuing now finds nothing to reclaim.
    assert await backend.dequeue(10, 10) == []
    probe.release_all()
    result = await next_result(stream)
    assert result.task.status is TaskStatus.COMPLETED
    assert probe.attempts == [1]
    with pytest.raises(TaskNotFoundError):
        await backend.get(task_id)  # acked with the renewed lease


async def lease_expiry_is(backend: InMemoryDurableBackend, task_id: uuid.UUID, expected: float) -> bool:
    record = await backend.get(task_id)
    return record.lease_expires_at is not None and abs(record.lease_expires_at - expected) < 0.001


async def test_without_renewal_an_expired_lease_is_lost_to_another_node(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), durable_lease=10)
    await tm.start()
    task_id = await tm.register_durable_task(task("long"))
    await within(probe.started.wait())
    clock.advance(11)
    (stolen,) = await backend.dequeue(10, 30)  # another node reclaims the expired lease
    assert (stolen.task_id, stolen.attempts) == (task_id, 2)
    probe.release_all()
    await within(tm.wait())
    # The first node's ack was refused (fenced): the task stays with the node that holds it now.
    record = await backend.get(task_id)
    assert (record.state, record.attempts) == (DurableState.PROCESSING, 2)
    await backend.ack(stolen)


async def test_cancel_of_a_leased_task_not_started_yet_dead_letters_it(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), max_workers=1, durable_prefetch=1)
    stream = tm.subscribe_results(10)
    await tm.start()
    await tm.register_durable_task(task("first"))
    await within(probe.started.wait())
    second = await tm.register_durable_task(task("second"))
    await until(lambda: any(t.id == second for t in tm.get_tasks()))  # leased here, waiting for the worker
    assert tm.get_task(second).status is TaskStatus.UNKNOWN

    await tm.cancel_task(second)

    assert tm.get_task(second).status is TaskStatus.CANCELLED
    record = await backend.get(second)
    assert (record.state, record.last_error) == (DurableState.DEAD, "task cancelled")
    assert record.cancelled
    result = stream.get_nowait()
    assert result is not None
    assert result.task.id == second
    probe.release_all()
    await within(tm.wait())
    assert labels(probe) == ["first"]  # the cancelled one never ran
