"""cancel_all in durable mode (docs/task-manager.md#cancellation): every task this node holds ends as cancel_task
would end it."""

from __future__ import annotations

import uuid

from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.domain import DurableState, DurableTask, TaskStatus
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, until, within
from tests.unit.durable.durable_support import MakeDurable, Probe, registry_for


def task(label: str) -> DurableTask:
    return DurableTask(handler="send_email", message=SendEmailPayload(to=label), id=uuid.uuid4())




async def test_cancel_all_cancels_a_prefetched_task_not_started_yet(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    """A lease waiting for a busy worker is dead-lettered Cancelled, as cancel_task does (see
    test_cancel_of_a_leased_task_not_started_yet_dead_letters_it), instead of running once the worker is free."""
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), max_workers=1, durable_prefetch=1)
    stream = tm.subscribe_results(10)
    await tm.start()
    running = await tm.register_durable_task(task("running"))
    await within(probe.started.wait())
    prefetched = await tm.register_durable_task(task("prefetched"))
    await until(lambda: any(t.id == prefetched for t in tm.get_tasks()))  # leased here, waiting for the worker
    probe.block = False  # were it to run after all, it would complete at once rather than hang

    tm.cancel_all()

    results = [await next_result(stream), await next_result(stream)]
    statuses = {result.task.id: result.task.status for result in results}
    assert statuses == {running: TaskStatus.CANCELLED, prefetched: TaskStatus.CANCELLED}
    dead = {record.id: record.last_error for record in (await backend.list_tasks(DurableState.DEAD)).records}
    assert dead == {running: "task cancelled", prefetched: "task cancelled"}  # go-worker's text: no reason given
    assert [message.to for message in probe.messages] == ["running"]  # the prefetched one never ran
    await within(tm.wait())
