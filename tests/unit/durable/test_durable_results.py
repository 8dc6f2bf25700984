"""Results across nodes on one in-memory backend: subscribe_results and get_result see what other managers settled."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskManager
from pyworker.domain import (
    BackendUnavailableError,
    DurableLease,
    DurableTask,
    RemoteTaskError,
    Task,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
)
from tests.support.waits import next_result, settle, within
from tests.unit.durable.durable_support import MakeDurable, Probe, RecordingBackend, email, registry_for


def task() -> DurableTask:
    return DurableTask(handler="send_email", message=email())


async def test_a_result_produced_on_b_reaches_a_subscriber_on_a_once_and_get_result_until_the_ttl(
    make_durable: MakeDurable, clock: ManualClock
) -> None:
    node_a = make_durable(durable_handlers=registry_for(Probe()))  # never started: it runs nothing
    node_b = make_durable(durable_handlers=registry_for(Probe(result=42)), durable_result_ttl=60)
    stream = node_a.subscribe_results()
    await node_b.start()

    task_id = await node_b.register_durable_task(task())
    result = await next_result(stream)

    assert (result.task.id, result.status, result.result, result.error) == (task_id, TaskStatus.COMPLETED, "42", None)
    assert (result.task.name, result.task.attempts) == ("send_email", 1)
    await within(node_b.wait())
    await settle()
    assert len(stream) == 0  # exactly once
    kept = await node_a.get_result(task_id)
    assert (kept.task.id, kept.status, kept.result) == (task_id, TaskStatus.COMPLETED, "42")
    clock.advance(61)
    with pytest.raises(TaskNotFoundError):
        await node_a.get_result(task_id)
    assert (await node_b.get_result(task_id)).result == 42  # B's own ledger: the value itself


async def test_a_failure_elsewhere_arrives_as_failed_with_the_remote_error(make_durable: MakeDurable) -> None:
    node_a = make_durable(durable_handlers=registry_for(Probe()))
    node_b = make_durable(durable_handlers=registry_for(Probe(fail_first=1)))
    stream = node_a.subscribe_results()
    await node_b.start()

    task_id = await node_b.register_durable_task(task())
    result = await next_result(stream)

    assert (result.task.id, result.status, result.result) == (task_id, TaskStatus.FAILED, None)
    assert isinstance(result.error, RemoteTaskError)
    assert str(result.error) == "boom 1"
    assert (await node_a.get_result(task_id)).status is TaskStatus.FAILED


async def test_a_task_finished_here_is_published_once(make_durable: MakeDurable) -> None:
    node = make_durable(durable_handlers=registry_for(Probe()))
    stream = node.subscribe_results()
    await node.start()

    task_id = await node.register_durable_task(task())
    assert (await next_result(stream)).task.id == task_id
    await within(node.wait())
    await settle(200)  # the feed read the stream's entry for it meanwhile

    assert len(stream) == 0


async def test_an_outcome_settled_right_after_subscribing_is_not_missed(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    node_a = make_durable(durable_handlers=registry_for(Probe()))
    await backend.configure_results(60.0, 100, "node-b")
    stream = node_a.subscribe_results()
    # Settled before the feed has read anything (no await yields to it in between).
    task_id = await backend.enqueue(DurableTask(handler="send_email", payload=b"x", id=uuid.uuid4()))
    [lease] = await backend.dequeue(1, 30.0)
    await backend.ack(lease, "done elsewhere")

    result = await next_result(stream)

    assert (result.task.id, result.result) == (task_id, "done elsewhere")


async def test_with_results_off_other_nodes_results_stay_there(make_durable: MakeDurable) -> None:
    node_a = make_durable(durable_handlers=registry_for(Probe()), durable_result_ttl=0)
    node_b = make_durable(durable_handlers=registry_for(Probe()), durable_result_ttl=0)
    stream = node_a.subscribe_results()
    await node_b.start()

    task_id = await node_b.register_durable_task(task())
    await within(node_b.wait())
    await settle(200)

    assert len(stream) == 0
    with pytest.raises(TaskNotFoundError):
        await node_a.get_result(task_id)


async def test_get_result_in_memory_mode_reads_the_finished_task() -> None:
    async def double(ctx: TaskContext) -> int:
        return 21 * 2

    tm = TaskManager(max_workers=1, tasks_per_second=0)
    try:
        job = Task(execute=double)
        await tm.register_task(job)
        await within(tm.wait())
        result = await tm.get_result(job.id)
        assert (result.task, result.result, result.error) == (job, 42, None)
        with pytest.raises(TaskNotFoundError):
            await tm.get_result(Task(execute=double).id)
    finally:
        await within(tm.stop_now())


class AcksAway(RecordingBackend):
    """The in-memory backend, unreachable for every ack_many (the node's acks are given up)."""

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> Sequence[BaseException | None]:
        raise BackendUnavailableError(reason="connection refused")


async def test_an_ack_given_up_here_and_acked_elsewhere_is_delivered_here_once(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    # The lease is shorter than the ack's retry wait: the first failed ack is given up.
    node_a = make_durable(
        durable_backend=AcksAway(backend), durable_handlers=registry_for(Probe()), durable_lease=1,
        durable_poll_interval=5,
    )  # fmt: skip
    await node_a.start()
    stream = node_a.subscribe_results()
    task_id = await node_a.register_durable_task(task())
    first = await next_result(stream)  # published here, though its ack was lost
    assert (first.task.id, first.status) == (task_id, TaskStatus.COMPLETED)

    # Node B leases the task once the lease has expired, runs it and acks it; nothing
    # yields to node A in between (the in-memory backend never awaits).
    await backend.configure_results(600.0, 100, "node-b")
    clock.advance(2)
    [lease] = await backend.dequeue(1, 30.0)
    assert lease.task.id == task_id
    await backend.ack(lease, "done again")
    assert (await node_a.get_result(task_id)).result == "done"  # node A's own finished task first
    await settle(200)  # node A's feed read B's outcome meanwhile

    assert len(stream) == 0
