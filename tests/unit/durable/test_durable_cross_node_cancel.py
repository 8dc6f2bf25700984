"""Cancellation across nodes on one in-memory store (docs/cluster.md#cancellation): node A cancels what node B
holds or what waits; B's attempt ends Cancelled through its ctx, without a retry, and A sees the record Cancelled.

The clock is a ManualClock nobody advances: no poll, renewal or lease expiry can happen, so a pass proves the
notification path."""

from __future__ import annotations

import threading
import uuid
from typing import Any
from unittest import mock

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.grpc.mapping import record_message
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.domain import DurableLease, DurableState, DurableTask, TaskContext, TaskNotFoundError, TaskStatus
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, settle, until, within
from tests.unit.durable.durable_support import HookLog, MakeDurable, Probe, email, registry_for


def node_a(make_durable: MakeDurable) -> TaskManager:
    """A node that is not started, so it leases nothing (the in-memory store's queue settings are
    per store, so a started A could not serve other queues than B): it only registers and asks.
    """
    return make_durable(durable_handlers=registry_for(Probe()))


async def test_a_running_async_task_on_b_cancelled_from_a_ends_cancelled_without_a_retry(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe, log = Probe(block=True), HookLog()
    b = make_durable(durable_handlers=registry_for(probe), hooks=log.hooks())
    a = node_a(make_durable)
    await b.start()
    results = b.subscribe_results()
    task_id = await a.register_durable_task(DurableTask(handler="send_email", message=email(), retries=3))
    await within(probe.started.wait())
    with pytest.raises(TaskNotFoundError):
        a.get_task(task_id)  # A does not hold it

    await a.cancel_task(task_id, reason="customer asked")

    result = await next_result(results)
    assert (result.task.id, result.task.status) == (task_id, TaskStatus.CANCELLED)
    assert probe.cancelled == 1  # the coroutine saw the cancellation
    assert probe.attempts == [1]
    assert "retry" not in log.kinds()
    record = await backend.get(task_id)
    assert (record.state, record.cancelled, record.last_error) == (
        DurableState.DEAD, True, "task cancelled: customer asked",
    )  # fmt: skip
    assert record_message(record).status == "Cancelled"  # what GetTask answers on A


async def test_a_running_sync_task_sees_ctx_cancelled(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    started, saw = threading.Event(), threading.Event()

    def export(ctx: TaskContext, message: Any) -> str:
        started.set()
        if ctx.wait(30):  # released by the cancellation, not by the timeout
            saw.set()
            ctx.raise_if_cancelled()
        return "finished"

    registry = TypedDurableRegistry()
    registry.add_typed("send_email", SendEmailPayload, export)
    b = make_durable(durable_handlers=registry)
    a = node_a(make_durable)
    await b.start()
    results = b.subscribe_results()
    task_id = await a.register_durable_task(DurableTask(handler="send_email", message=email()))
    await until(started.is_set)

    await a.cancel_task(task_id)

    result = await next_result(results)
    assert (result.task.id, result.task.status) == (task_id, TaskStatus.CANCELLED)
    assert saw.is_set()
    record = await backend.get(task_id)
    assert (record.cancelled, record.last_error) == (True, "task cancelled")


async def test_a_task_leased_by_b_but_not_started_is_withdrawn(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    b = make_durable(durable_handlers=registry_for(probe), durable_prefetch=1)
    a = node_a(make_durable)
    await b.start()
    results = b.subscribe_results(10)
    await a.register_durable_task(DurableTask(handler="send_email", message=email("first")))
    await within(probe.started.wait())
    second = await a.register_durable_task(DurableTask(handler="send_email", message=email("second")))
    await until(lambda: any(t.id == second for t in b.get_tasks()))  # leased by B, waiting for its worker
    probe.block = False  # were it to run after all, it would complete

    await a.cancel_task(second, reason="not this one")

    result = await next_result(results)
    assert (result.task.id, result.task.status) == (second, TaskStatus.CANCELLED)
    assert [m.to for m in probe.messages] == ["first"]
    assert (await backend.get(second)).last_error == "task cancelled: not this one"


async def test_a_waiting_task_is_withdrawn_by_a_node_that_holds_nothing(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    a = node_a(make_durable)  # not even started
    task_id = await a.register_durable_task(DurableTask(handler="send_email", message=email(), run_at=10**10))

    await a.cancel_task(task_id)
    await a.cancel_task(task_id)  # twice: a no-op

    record = await backend.get(task_id)
    assert (record.state, record.cancelled) == (DurableState.DEAD, True)
    with pytest.raises(TaskNotFoundError):
        await a.cancel_task(uuid.uuid4())



class _Deaf:
    """A subscription that hears nothing: the pub/sub message is lost."""

    async def close(self) -> None:
        return None


async def test_a_lost_message_is_seen_by_the_next_lease_renewal(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(block=True)
    b = make_durable(durable_handlers=registry_for(probe), durable_lease=10, durable_lease_renewal_interval=2)
    with mock.patch.object(backend, "subscribe_cancellations", return_value=_Deaf()):
        await b.start()
    results = b.subscribe_results()
    task_id = await b.register_durable_task(DurableTask(handler="send_email", message=email()))
    await within(probe.started.wait())
    await node_a(make_durable).cancel_task(task_id, reason="missed")
    await settle()
    assert probe.cancelled == 0  # nobody told B

    clock.advance(2)  # the renewal reports the flag

    result = await next_result(results)
    assert (result.task.status, probe.cancelled) == (TaskStatus.CANCELLED, 1)
    assert (await backend.get(task_id)).last_error == "task cancelled: missed"


class _CancelledInFlight:
    """The store, with a cancel request arriving while B's dequeue reply is on its way (before B holds the lease)."""

    def __init__(self, inner: InMemoryDurableBackend) -> None:
        self.inner = inner
        self.reason = "raced"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        leases = await self.inner.dequeue(limit, lease)
        for granted in leases:
            await self.inner.cancel(granted.task_id, self.reason)
        return leases

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        await self.inner.wait_for_work(max_wait)
        return await self.dequeue(limit, lease)


async def test_a_request_that_comes_before_the_lease_is_held_cancels_it_before_it_starts(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe()
    b = make_durable(durable_handlers=registry_for(probe), durable_backend=_CancelledInFlight(backend))
    await b.start()
    results = b.subscribe_results()

    task_id = await b.register_durable_task(DurableTask(handler="send_email", message=email()))

    result = await next_result(results)
    assert (result.task.id, result.task.status, probe.calls) == (task_id, TaskStatus.CANCELLED, [])
    assert (await backend.get(task_id)).last_error == "task cancelled: raced"
