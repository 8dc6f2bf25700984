"""Results across nodes on the real Redis: a result produced on node B reaches node A's
subscribers and gRPC StreamResults, GetTask and get_result on A return it, until the TTL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.grpc import with_inspector
from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.domain import DurableTask, TaskContext, TaskNotFoundError, TaskStatus
from pyworker.protos.worker.v1 import worker_pb2
from tests.support.grpc_server import Gates, handlers_for, serving
from tests.support.redis_servers import redis_available
from tests.support.waits import next_result, settle, until, within
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [pytest.mark.redis, pytest.mark.skipif(not redis_available(), reason="needs redis-server")]
URL = "redis://127.0.0.1:6379/0"


async def never(_ctx: TaskContext, _message: Any) -> str:
    raise AssertionError("node A must not run tasks")


async def doubled(_ctx: TaskContext, message: dict[str, Any]) -> int:
    return int(message["n"]) * 2


def record_task(task_id: uuid.UUID, handler: str = "record", **message: Any) -> DurableTask:
    return DurableTask(handler=handler, payload=json.dumps(message).encode(), id=task_id)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A fresh prefix on the shared Redis; only its keys (and the probe's) are deleted afterwards."""
    name = f"pyworker-test-{uuid.uuid4().hex}"
    yield name
    client = new_redis_client(URL)
    try:
        for pattern in (f"{{{name}}}*", f"{name}:*"):
            keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def node(prefix: str, handler: Any, **kwargs: Any) -> AsyncIterator[tuple[TaskManager, RedisDurableBackend]]:
    """A durable TaskManager on its own client and backend (not started; the caller starts it)."""
    client = new_redis_client(URL)
    backend = RedisDurableBackend(client, prefix=prefix)
    manager = TaskManager(
        durable_backend=backend,
        durable_handlers={"record": DurableHandlerSpec(make=dict, fn=handler)},
        durable_codec=JsonDurableCodec(),
        durable_poll_interval=0.05,
        **kwargs,
    )
    try:
        yield manager, backend
    finally:
        await within(manager.stop_now())
        await backend.close()
        await client.aclose()


async def test_a_result_from_node_b_reaches_node_a_and_get_result_ends_at_the_ttl(prefix: str) -> None:
    async with node(prefix, never) as (node_a, _), node(prefix, doubled, durable_result_ttl=1.0) as (node_b, _):
        stream = node_a.subscribe_results()  # node A never starts: it leases nothing
        await node_b.start()
        task_id = await node_b.register_durable_task(record_task(uuid.uuid4(), n=21))

        result = await next_result(stream)

        assert (result.task.id, result.status, result.result) == (task_id, TaskStatus.COMPLETED, "42")
        assert result.error is None
        await within(node_b.wait())
        await settle(200)
        assert len(stream) == 0  # exactly once
        assert (await node_a.get_result(task_id)).result == "42"

        async def expired() -> bool:
            await asyncio.sleep(0.05)  # Redis expires the record by its own clock
            try:
                await node_a.get_result(task_id)
            except TaskNotFoundError:
                return True
            return False

        await until(expired)


class RecordNode(WorkerProcess):
    """`workerctl worker` running tests.support.fault_app (handler "record", JSON codec)."""

    def __init__(self, prefix: str) -> None:
        env = {**os.environ, "FAULT_REDIS_URL": URL, "FAULT_KEY": f"{prefix}:probe", "PYTHONPATH": str(ROOT)}
        super().__init__(
            ["--app", "tests.support.fault_app:registry", "--codec", "json", "--redis-url", URL,
             "--redis-prefix", prefix, "--poll", "50ms", "--concurrency", "2"],
            env,
        )  # fmt: skip


@pytest.mark.slow
async def test_stream_results_and_get_task_on_node_a_see_a_task_a_worker_process_ran(prefix: str) -> None:
    async with (
        node(prefix, never) as (node_a, backend),
        serving(node_a, handlers_for(Gates()), with_inspector(backend)) as served,
    ):
        task_id = uuid.uuid4()
        stream = served.stub.StreamResults(
            worker_pb2.StreamResultsRequest(ids=[str(task_id)], close_on_completion=True)
        )
        await within(stream.initial_metadata())  # subscribed: no later result is missed
        worker = await asyncio.to_thread(RecordNode, prefix)  # node B: another process
        try:
            await backend.enqueue(record_task(task_id))

            result = await within(stream.read())
            assert (result.id, result.output, result.error) == (str(task_id), "ok", "")
            snapshot = await within(served.stub.GetTask(worker_pb2.GetTaskRequest(id=str(task_id))))
            assert (snapshot.id, snapshot.name, snapshot.status, snapshot.output) == (
                str(task_id), "record", "Completed", "ok",
            )  # fmt: skip
            # Asked again once it is done: answered from the store's outcome at once.
            again = served.stub.StreamResults(
                worker_pb2.StreamResultsRequest(ids=[str(task_id)], close_on_completion=True)
            )
            assert [(r.id, r.output) async for r in again] == [(str(task_id), "ok")]
        finally:
            assert await asyncio.to_thread(worker.stop) == 0
