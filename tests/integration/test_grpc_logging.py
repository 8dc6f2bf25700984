"""Payloads and tokens never reach the logs, whatever the outcome of the call (docs/grpc.md, security)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from pyworker.adapters.grpc import bearer_token_auth, with_grpc_auth
from pyworker.application import TaskHooks, TaskManager, logger_middleware, register_middleware
from pyworker.protos.worker.v1 import worker_pb2
from tests.support.grpc_server import Gates, email, handlers_for, serving
from tests.support.waits import within

TOKEN = "tok-9f1c2e-never-logged"
SECRET_ADDRESS = "payload-7d3a55-never-logged@example.com"


@pytest.fixture
async def manager() -> AsyncIterator[TaskManager]:
    # Hooks and the logger middleware log what happens to a task: they must not log its payload.
    hooks = TaskHooks(on_finish=lambda task, status, result, error: logging.getLogger("test.hooks").info("%s", task))
    async with TaskManager(max_workers=2, tasks_per_second=0, hooks=hooks) as tm:
        yield tm


async def test_tokens_and_payloads_are_not_logged(manager: TaskManager, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: grpc's, pyworker's, the hooks'
    service = register_middleware(manager, logger_middleware())
    auth = with_grpc_auth(bearer_token_auth([TOKEN]))
    async with serving(service, handlers_for(Gates()), auth) as served:
        good = (("authorization", f"Bearer {TOKEN}"),)
        bad = (("authorization", f"Bearer {TOKEN}-wrong"),)
        request = worker_pb2.RegisterTasksRequest(tasks=[email(to=SECRET_ADDRESS)])
        reply = await within(served.stub.RegisterTasks(request, metadata=good))
        assert len(reply.ids) == 1
        failing = worker_pb2.RegisterTasksRequest(tasks=[email(to=SECRET_ADDRESS, name="fail")])
        await within(served.stub.RegisterTasks(failing, metadata=good))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await within(served.stub.RegisterTasks(request, metadata=bad))
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        unknown = worker_pb2.RegisterTasksRequest(tasks=[email(to=SECRET_ADDRESS, name="no_such_handler")])
        with pytest.raises(grpc.aio.AioRpcError):
            await within(served.stub.RegisterTasks(unknown, metadata=good))
        await within(manager.wait())
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert TOKEN not in text, record
        assert SECRET_ADDRESS not in text, record
