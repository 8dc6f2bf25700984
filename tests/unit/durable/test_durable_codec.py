"""The durable payload codec a node uses when built without ``durable_codec=`` (docs/durable.md)."""

from __future__ import annotations

import uuid

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.domain import DurableState, DurableTask, TaskStatus
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, until, within
from tests.unit.durable.durable_support import Probe


async def test_a_node_without_a_codec_runs_a_protobuf_task_to_completed(
    clock: ManualClock, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(result="sent")
    registry = TypedDurableRegistry()
    registry.add_typed("send_email", SendEmailPayload, probe.run)
    tm = TaskManager(durable_backend=backend, durable_handlers=registry, clock=clock, max_workers=1, tasks_per_second=0)
    try:
        stream = tm.subscribe_results()
        await tm.start()
        # Enqueued by a producer elsewhere: protobuf bytes, as the gRPC API and the CLI write them.
        produced = await backend.enqueue(
            DurableTask(handler="send_email", payload=SendEmailPayload(to="ada").SerializeToString(), id=uuid.uuid4())
        )

        async def settled() -> bool:
            stats = await backend.stats()
            return stats.total_ready + stats.total_processing == 0

        await until(settled)  # acked, or dead-lettered
        assert [record.last_error for record in (await backend.list_tasks(DurableState.DEAD)).records] == []
        result = await next_result(stream)
        assert (result.task.id, result.task.status, result.result) == (produced, TaskStatus.COMPLETED, "sent")
        [(_, message)] = probe.calls
        assert isinstance(message, SendEmailPayload)
        assert message.to == "ada"

        # Registered through the node itself: the message is encoded with the same default.
        bob = DurableTask(handler="send_email", message=SendEmailPayload(to="bob"))
        registered = await tm.register_durable_task(bob)
        result = await next_result(stream)
        assert (result.task.id, result.task.status) == (registered, TaskStatus.COMPLETED)
    finally:
        await within(tm.stop_now())
