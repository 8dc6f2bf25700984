"""Every row of the WorkerService's error -> status table, checked on the wire (code and message)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2

from pyworker.adapters.grpc import GrpcAuthError, RpcError, bearer_token_auth, with_grpc_auth, with_inspector
from pyworker.adapters.grpc.mapping import signature
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import DurableHandlerSpec, ServiceMiddleware, TaskManager
from pyworker.domain import InvalidTaskError, Task, TaskCancelledError, TaskNotFoundError
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2
from tests.support.grpc_server import Gates, Served, email, handlers_for, serving
from tests.support.waits import within


class FaultyService(ServiceMiddleware):
    """A manager whose register_task raises ``error``, or waits for ``gate`` first."""

    def __init__(self, next: TaskManager) -> None:
        super().__init__(next)
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.registered = 0

    async def register_task(self, task: Task) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.registered += 1
        await super().register_task(task)


@pytest.fixture
async def manager() -> AsyncIterator[TaskManager]:
    async with TaskManager(max_workers=2, tasks_per_second=0) as tm:
        yield tm


@pytest.fixture
def faulty(manager: TaskManager) -> FaultyService:
    return FaultyService(manager)


@pytest.fixture
async def served(faulty: FaultyService) -> AsyncIterator[Served]:
    async with serving(faulty, handlers_for(Gates())) as s:
        yield s


async def status_of(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await within(call)
    return caught.value.code(), caught.value.details() or ""


def register(served: Served, *tasks: worker_pb2.Task, timeout: float | None = None) -> Awaitable[Any]:
    return served.stub.RegisterTasks(worker_pb2.RegisterTasksRequest(tasks=tasks), timeout=timeout)  # type: ignore[no-any-return]


# -- auth ------------------------------------------------------------------------------------


async def test_auth_status_is_returned_unchanged_and_other_errors_are_permission_denied(manager: TaskManager) -> None:
    def auth(_context: Any, method: str, _request: Any) -> None:
        if method.endswith("/GetTask"):
            raise GrpcAuthError(grpc.StatusCode.UNAUTHENTICATED, "who are you")
        raise RuntimeError("secret detail")

    async with serving(manager, handlers_for(Gates()), with_grpc_auth(auth)) as served:
        assert await status_of(served.stub.GetTask(worker_pb2.GetTaskRequest(id=str(uuid.uuid4())))) == (
            grpc.StatusCode.UNAUTHENTICATED, "who are you"
        )
        assert await status_of(register(served, email())) == (grpc.StatusCode.PERMISSION_DENIED, "unauthorized")
        assert manager.get_tasks() == []


async def test_bearer_token_missing_bad_and_good(manager: TaskManager) -> None:
    async with serving(manager, handlers_for(Gates()), with_grpc_auth(bearer_token_auth(["s3cret"]))) as served:
        request = worker_pb2.RegisterTasksRequest(tasks=[email()])
        assert await status_of(served.stub.RegisterTasks(request)) == (
            grpc.StatusCode.UNAUTHENTICATED, "missing bearer token"
        )
        bad = (("authorization", "Bearer nope"),)
        assert await status_of(served.stub.RegisterTasks(request, metadata=bad)) == (
            grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token"
        )
        good = (("authorization", "Bearer s3cret"),)
        reply = await within(served.stub.RegisterTasks(request, metadata=good))
        assert len(reply.ids) == 1
        assert [str(t.id) for t in manager.get_tasks()] == list(reply.ids)


async def test_an_async_auth_function_that_aborts_keeps_its_status(manager: TaskManager) -> None:
    async def auth(context: grpc.aio.ServicerContext[Any, Any], _method: str, _request: Any) -> None:
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")

    async with serving(manager, handlers_for(Gates()), with_grpc_auth(auth)) as served:
        assert await status_of(register(served, email())) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")


# -- request errors -------------------------------------------------------------------------


def test_signature_serialisation_failure_is_invalid_argument() -> None:
    class Unserialisable:
        def SerializeToString(self, deterministic: bool = False) -> bytes:  # noqa: N802 - protobuf's name
            raise ValueError("cannot encode")

    with pytest.raises(RpcError) as caught:
        signature(Unserialisable())  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.message) == (
        grpc.StatusCode.INVALID_ARGUMENT, "idempotency signature: cannot encode"
    )


async def test_idempotency_key_reused_for_another_task_is_already_exists(served: Served) -> None:
    reply = await within(register(served, email(idempotency_key="k1")))
    assert await status_of(register(served, email("other@example.com", idempotency_key=" k1 "))) == (
        grpc.StatusCode.ALREADY_EXISTS, 'idempotency key "k1" already used for different task'
    )
    again = await within(register(served, email(idempotency_key="k1")))
    assert list(again.ids) == list(reply.ids)


async def test_concurrent_identical_requests_register_one_task(served: Served, faulty: FaultyService) -> None:
    faulty.gate = asyncio.Event()
    calls = [asyncio.ensure_future(register(served, email(idempotency_key="same"))) for _ in range(5)]
    await within(faulty.entered.wait())
    faulty.gate.set()
    replies = await within(asyncio.gather(*calls))
    assert len({tuple(r.ids) for r in replies}) == 1
    assert faulty.registered == 1


async def test_waiting_on_an_in_flight_key_ends_with_the_callers_deadline(
    served: Served, faulty: FaultyService
) -> None:
    faulty.gate = asyncio.Event()
    first = asyncio.ensure_future(register(served, email(idempotency_key="slow")))
    await within(faulty.entered.wait())
    code, _ = await status_of(register(served, email(idempotency_key="slow"), timeout=0.3))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    faulty.gate.set()
    reply = await within(first)
    assert faulty.registered == 1
    assert len(reply.ids) == 1


async def test_a_failed_registration_is_replayed_for_the_same_key(served: Served, faulty: FaultyService) -> None:
    faulty.error = TaskNotFoundError(task_id="x")
    first = await status_of(register(served, email(idempotency_key="bad")))
    faulty.error = None
    assert await status_of(register(served, email(idempotency_key="bad"))) == first
    assert faulty.registered == 0


async def test_unknown_handler_is_not_found(served: Served) -> None:
    assert await status_of(register(served, email(name="nope"))) == (
        grpc.StatusCode.NOT_FOUND, 'no handler registered for "nope"'
    )


async def test_payload_of_the_wrong_type_is_invalid_argument(served: Served) -> None:
    task = worker_pb2.Task(name="send_email")
    task.payload.Pack(worker_pb2.GetTaskRequest(id="x"))
    assert await status_of(register(served, task)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        'bad payload for "send_email": mismatched message type: got "worker.v1.GetTaskRequest", '
        'want "worker.v1.SendEmailPayload"',
    )


async def test_undecodable_payload_is_invalid_argument(served: Served) -> None:
    task = worker_pb2.Task(name="send_email")
    task.payload.CopyFrom(any_pb2.Any(type_url="type.googleapis.com/worker.v1.SendEmailPayload", value=b"\xff\xff"))
    code, message = await status_of(register(served, task))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith('bad payload for "send_email": ')


async def test_missing_durable_payload_is_invalid_argument() -> None:
    backend = InMemoryDurableBackend()
    specs = {"send_email": DurableHandlerSpec(make=payload_pb2.SendEmailPayload, fn=lambda _c, _m: None)}
    async with (
        TaskManager(durable_backend=backend, durable_handlers=specs) as tm,
        serving(tm, handlers_for(Gates()), with_inspector(backend)) as served,
    ):
        request = worker_pb2.RegisterDurableTasksRequest(tasks=[worker_pb2.DurableTask(name="send_email")])
        assert await status_of(served.stub.RegisterDurableTasks(request)) == (
            grpc.StatusCode.INVALID_ARGUMENT, 'missing payload for "send_email"'
        )
        # and the durable manager refuses in-memory tasks: a mode mismatch is INTERNAL
        assert await status_of(register(served, email())) == (
            grpc.StatusCode.INTERNAL, "register task: durable backend enabled; use register_durable_task"
        )


@pytest.mark.parametrize("weight", ["0", "-3", "abc", "1.5"])
async def test_invalid_weight_metadata_is_invalid_argument(served: Served, weight: str) -> None:
    assert await status_of(register(served, email(metadata={"weight": f" {weight} "}))) == (
        grpc.StatusCode.INVALID_ARGUMENT, f'invalid queue weight "{weight}"'
    )


# -- service errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (RpcError(grpc.StatusCode.FAILED_PRECONDITION, "already a status"), grpc.StatusCode.FAILED_PRECONDITION,
         "already a status"),
        (InvalidTaskError(reason="bad id"), grpc.StatusCode.INVALID_ARGUMENT, "bad id"),
        (TaskCancelledError(task_id="t"), grpc.StatusCode.CANCELLED, "context canceled"),
        (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED, "context deadline exceeded"),
        (TaskNotFoundError(task_id="t"), grpc.StatusCode.NOT_FOUND, "task t not found"),
        (RuntimeError("secret"), grpc.StatusCode.INTERNAL, "register task: internal error (RuntimeError)"),
    ],
)
async def test_service_errors_map_through_the_table(
    served: Served, faulty: FaultyService, error: BaseException, code: grpc.StatusCode, message: str
) -> None:
    faulty.error = error
    assert await status_of(register(served, email())) == (code, message)


async def test_queue_full_is_internal() -> None:
    async with TaskManager(max_workers=1, max_tasks=1, tasks_per_second=0) as tm:
        gates = Gates()
        async with serving(tm, handlers_for(gates)) as served:
            await within(register(served, email(name="block")))
            await within(gates.started.wait())
            await within(register(served, email(name="block")))  # waits: the queue is now full
            code, message = await status_of(register(served, email()))
            gates.release.set()
    assert code == grpc.StatusCode.INTERNAL
    assert message.startswith("register task: ")


async def test_the_first_error_aborts_and_earlier_tasks_stay(served: Served, manager: TaskManager) -> None:
    code, _ = await status_of(register(served, email(), email(name="nope"), email()))
    assert code == grpc.StatusCode.NOT_FOUND
    assert len(manager.get_tasks()) == 1


# -- get and cancel --------------------------------------------------------------------------


@pytest.mark.parametrize("rpc", ["GetTask", "CancelTask"])
async def test_get_and_cancel_check_the_id(served: Served, rpc: str) -> None:
    method: Callable[[Any], Awaitable[Any]] = getattr(served.stub, rpc)
    request = worker_pb2.GetTaskRequest if rpc == "GetTask" else worker_pb2.CancelTaskRequest
    assert await status_of(method(request(id="not-a-uuid"))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "parse id: invalid UUID 'not-a-uuid'"
    )
    missing = uuid.uuid4()
    assert await status_of(method(request(id=str(missing)))) == (grpc.StatusCode.NOT_FOUND, f"task {missing} not found")


async def test_stream_results_checks_its_ids(served: Served) -> None:
    stream = served.stub.StreamResults(worker_pb2.StreamResultsRequest(ids=["nope"]))
    assert await status_of(stream.read()) == (grpc.StatusCode.INVALID_ARGUMENT, "parse id: invalid UUID 'nope'")


@pytest.mark.parametrize(
    ("seconds", "message"),
    [(-5, "invalid retry_delay -5.0s: must not be negative"), (2**62, "invalid retry_delay: ")],
)
async def test_a_bad_retry_delay_is_invalid_argument(served: Served, seconds: int, message: str) -> None:
    task = email()
    task.retry_delay.CopyFrom(duration_pb2.Duration(seconds=seconds))
    code, details = await status_of(register(served, task))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(message)
