"""The WorkerService on a real grpc.aio server and channel: the five RPCs, as a client sees them."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pyworker.adapters.grpc import SERVICE_NAME
from pyworker.application import TaskManager
from pyworker.domain import Task, TaskStatus
from pyworker.protos.worker.v1 import worker_pb2
from tests.support.grpc_server import Gates, Served, email, handlers_for, serving
from tests.support.waits import until, within


class Seen:
    """A lifecycle listener that keeps every finished task (what hooks and spans see)."""

    def __init__(self) -> None:
        self.finished: dict[uuid.UUID, Task] = {}

    def task_finished(self, task: Task, status: TaskStatus, result: object, error: object, now: float) -> None:
        self.finished[task.id] = task


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
async def manager() -> AsyncIterator[TaskManager]:
    async with TaskManager(max_workers=4, tasks_per_second=0) as tm:
        yield tm


@pytest.fixture
async def served(manager: TaskManager, gates: Gates) -> AsyncIterator[Served]:
    async with serving(manager, handlers_for(gates)) as s:
        yield s


async def register(served: Served, *tasks: worker_pb2.Task) -> list[str]:
    response = await within(served.stub.RegisterTasks(worker_pb2.RegisterTasksRequest(tasks=tasks)))
    return list(response.ids)


async def test_register_runs_the_handler_and_get_task_reports_the_result(served: Served) -> None:
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest())
    await within(stream.initial_metadata())  # subscribed: every later result arrives
    (task_id,) = await register(served, email("bob@example.com"))
    result = await within(stream.read())
    stream.cancel()
    assert (result.id, result.output, result.error) == (task_id, "sent to bob@example.com", "")
    snapshot = await within(served.stub.GetTask(worker_pb2.GetTaskRequest(id=task_id)))
    assert (snapshot.id, snapshot.name, snapshot.status, snapshot.output) == (
        task_id, "send_email", "Completed", "sent to bob@example.com"
    )


async def test_metadata_sets_queue_and_weight_and_stays_on_the_task(served: Served, manager: TaskManager) -> None:
    seen = Seen()
    manager.add_listener(seen)
    message = email(correlation_id="req-42", metadata={"queue": " mail ", "weight": "7", "tenant": "acme"})
    (task_id,) = await register(served, message)
    await until(lambda: uuid.UUID(task_id) in seen.finished)
    task = seen.finished[uuid.UUID(task_id)]
    assert (task.queue, task.weight, task.correlation_id) == ("mail", 7, "req-42")
    assert dict(task.metadata) == {"queue": " mail ", "weight": "7", "tenant": "acme"}


@pytest.mark.parametrize("handler", ["whoami", "whoami_sync"])
async def test_handlers_see_the_correlation_id_and_metadata(served: Served, handler: str) -> None:
    (task_id,) = await register(served, email(name=handler, correlation_id="req-7", metadata={"tenant": "acme"}))
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True))
    results = await within(collect(stream))
    assert [(r.id, r.output, r.error) for r in results] == [(task_id, "req-7|acme", "")]


async def test_task_lifetime_is_detached_from_the_rpc(served: Served, gates: Gates) -> None:
    (task_id,) = await register(served, email(name="block"))
    await within(gates.started.wait())  # running after RegisterTasks returned
    gates.release.set()
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True))
    results = await within(collect(stream))
    assert [(r.id, r.output) for r in results] == [(task_id, "released")]


async def test_cancel_task_cancels_a_running_task(served: Served, gates: Gates) -> None:
    (task_id,) = await register(served, email(name="block"))
    await within(gates.started.wait())
    await within(served.stub.CancelTask(worker_pb2.CancelTaskRequest(id=task_id)))

    async def cancelled() -> bool:
        snapshot = await served.stub.GetTask(worker_pb2.GetTaskRequest(id=task_id))
        return bool(snapshot.status == "Cancelled")

    await until(cancelled)


async def test_a_failing_handler_reports_its_error(served: Served) -> None:
    (task_id,) = await register(served, email(name="fail"))
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True))
    results = await within(collect(stream))
    assert [(r.id, r.output, r.error) for r in results] == [(task_id, "", "boom")]


async def test_stream_filter_stays_after_targets_finish(served: Served, manager: TaskManager) -> None:
    (target,) = await register(served, email())
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[target]))
    first = await within(stream.read())
    # Every target is done and close_on_completion is off: a later result is still filtered out.
    (other,) = await register(served, email("x@example.com"))
    await until(lambda: served_status(served, other))
    await manager.stop_now()  # ends the results, so the stream ends: what it sent is all it sends
    rest = await within(collect(stream))
    assert first.id == target
    assert rest == []


async def test_already_terminal_targets_are_sent_at_once_and_close(served: Served) -> None:
    ids = await register(served, email("a@example.com"), email("b@example.com"))
    for task_id in ids:
        await until(functools.partial(served_status, served, task_id))
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=ids, close_on_completion=True))
    results = await within(collect(stream))
    assert sorted((r.id, r.output) for r in results) == sorted(
        [(ids[0], "sent to a@example.com"), (ids[1], "sent to b@example.com")]
    )


async def served_status(served: Served, task_id: str) -> bool:
    snapshot = await served.stub.GetTask(worker_pb2.GetTaskRequest(id=task_id))
    return bool(snapshot.status == "Completed")


Stream = grpc.aio.UnaryStreamCall[worker_pb2.StreamResultsRequest, worker_pb2.StreamResultsResponse]


async def collect(stream: Stream) -> list[worker_pb2.StreamResultsResponse]:
    """Read until the server ends the stream (read(), so it mixes with earlier reads)."""
    results = []
    while (item := await stream.read()) is not grpc.aio.EOF:
        assert isinstance(item, worker_pb2.StreamResultsResponse)
        results.append(item)
    return results


async def test_close_on_completion_closes_after_live_and_finished_targets(served: Served, gates: Gates) -> None:
    (done_id,) = await register(served, email())
    await until(lambda: served_status(served, done_id))
    (live_id,) = await register(served, email(name="block"))
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[done_id, live_id],
                                                                       close_on_completion=True))
    first = await within(stream.read())
    gates.release.set()
    rest = await within(collect(stream))
    assert [first.id, *[r.id for r in rest]] == [done_id, live_id]
    assert await stream.code() == grpc.StatusCode.OK


async def test_health_reports_serving_then_not_serving(manager: TaskManager, gates: Gates) -> None:
    async with serving(manager, handlers_for(gates)) as served:
        health = cast(Any, health_pb2_grpc.HealthStub(served.channel))
        for name in ("", SERVICE_NAME):
            reply = await within(health.Check(health_pb2.HealthCheckRequest(service=name)))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await served.server.set_serving(False)
        reply = await within(health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)))
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_worker_service(served: Served) -> None:
    stub: Any = reflection_pb2_grpc.ServerReflectionStub(cast(Any, served.channel))
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    reply = await within(call.read())
    await call.done_writing()
    names = {service.name for service in reply.list_services_response.service}
    assert {"worker.v1.WorkerService", "grpc.health.v1.Health"} <= names

