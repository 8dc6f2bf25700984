"""Two gRPC nodes on the real Redis: GetTask from the node that did not run the task,
idempotency keys deduped across nodes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import grpc
import pytest

from pyworker.adapters.grpc import RedisIdempotencyStore, with_idempotency_store, with_inspector
from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.domain import TaskContext
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2
from tests.support.grpc_server import Gates, Served, durable_email, handlers_for, serving
from tests.support.waits import within

pytestmark = pytest.mark.redis
URL = "redis://127.0.0.1:6379/0"


@attrs.define
class Cluster:
    producer: Served  # node A: registers, never leases
    runner: Served  # node B: runs the tasks
    gates: Gates
    runs: list[str]


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    prefix = f"pyworker-test-{uuid.uuid4().hex}"
    gates, runs = Gates(), []

    async def block(_ctx: TaskContext, message: payload_pb2.SendEmailPayload) -> str:
        runs.append(message.to)
        gates.started.set()
        await gates.release.wait()
        return f"sent to {message.to}"

    durable = {"send_email": DurableHandlerSpec(make=payload_pb2.SendEmailPayload, fn=block)}
    async with contextlib.AsyncExitStack() as stack:
        clients = [new_redis_client(URL) for _ in range(2)]
        for client in clients:
            stack.push_async_callback(client.aclose)
        cleanup = clients[0]
        stack.push_async_callback(_delete_prefix, cleanup, prefix)
        nodes = []
        for index, client in enumerate(clients):
            backend = RedisDurableBackend(client, prefix=prefix)
            manager = TaskManager(durable_backend=backend, durable_handlers=durable, durable_poll_interval=0.05)
            if index == 1:
                await stack.enter_async_context(manager)  # only node B leases
            else:
                stack.push_async_callback(manager.stop_now)
            nodes.append(await stack.enter_async_context(serving(
                manager, handlers_for(Gates()), with_inspector(backend),
                with_idempotency_store(RedisIdempotencyStore(client, prefix)),
            )))
        stack.callback(gates.release.set)
        yield Cluster(nodes[0], nodes[1], gates, runs)


async def _delete_prefix(client: Any, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{{{prefix}}}*")]
    if keys:
        await client.delete(*keys)


def register(node: Served, *tasks: worker_pb2.DurableTask) -> Any:
    return node.stub.RegisterDurableTasks(worker_pb2.RegisterDurableTasksRequest(tasks=tasks))


async def test_get_task_is_answered_by_the_node_that_did_not_run_it(cluster: Cluster) -> None:
    (task_id,) = (await within(register(cluster.producer, durable_email("ann@example.com")))).ids
    await within(cluster.gates.started.wait())
    snapshot = await within(cluster.producer.stub.GetTask(worker_pb2.GetTaskRequest(id=task_id)))
    assert (snapshot.id, snapshot.name, snapshot.status) == (task_id, "send_email", "Running")
    stream = cluster.runner.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True))
    cluster.gates.release.set()
    result = await within(stream.read())
    assert (result.id, result.output) == (task_id, "sent to ann@example.com")
    done = await within(cluster.runner.stub.GetTask(worker_pb2.GetTaskRequest(id=task_id)))
    assert done.status == "Completed"
    assert cluster.runs == ["ann@example.com"]


async def test_idempotency_keys_are_shared_by_both_nodes(cluster: Cluster) -> None:
    cluster.gates.release.set()
    calls = [register(node, durable_email("bo@example.com", idempotency_key="order-7"))
             for node in (cluster.producer, cluster.runner, cluster.producer, cluster.runner)]
    replies = await within(asyncio.gather(*calls))
    assert len({tuple(reply.ids) for reply in replies}) == 1
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await within(register(cluster.runner, durable_email("eve@example.com", idempotency_key="order-7")))
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.ALREADY_EXISTS, 'idempotency key "order-7" already used for different task'
    )
    (task_id,) = replies[0].ids
    stream = cluster.runner.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True))
    await within(stream.read())
    assert cluster.runs == ["bo@example.com"]
