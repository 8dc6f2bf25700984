"""Random and malformed requests at every RPC: each gets a proper status, and the server keeps serving."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyworker.adapters.grpc import GrpcServerConfig, new_grpc_server, with_config
from pyworker.application import TaskManager
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2, worker_pb2_grpc
from tests.support.grpc_server import Gates, handlers_for

BOUND = 10.0
INT32 = st.integers(-(2**31), 2**31 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
IDS = st.one_of(TEXT, st.uuids().map(str))
#: What any request may get back; UNKNOWN (an unhandled exception) is never among them.
PROPER = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    """A server on its own loop in a thread, for the whole module (hypothesis runs sync)."""
    loop = asyncio.new_event_loop()
    ready: list[str] = []
    started, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        async with TaskManager(max_workers=2, tasks_per_second=0) as manager:
            config = GrpcServerConfig(address="127.0.0.1:0", max_receive_message_bytes=64 * 1024)
            server = new_grpc_server(manager, handlers_for(Gates()), with_config(config))
            ready.append(f"127.0.0.1:{await server.start()}")
            started.set()
            await stop.wait()
            await server.stop(None)
            await manager.stop_now()  # random retry delays must not hold the teardown

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(BOUND)
    with grpc.insecure_channel(ready[0]) as channel:
        yield worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
    loop.call_soon_threadsafe(stop.set)
    thread.join(BOUND)
    loop.close()


@st.composite
def payloads(draw: st.DrawFn) -> any_pb2.Any | None:
    kind = draw(st.sampled_from(["none", "email", "email", "random", "wrong-bytes"]))
    if kind == "none":
        return None
    message = any_pb2.Any()
    if kind == "email":
        message.Pack(payload_pb2.SendEmailPayload(to=draw(TEXT)))
    elif kind == "random":
        message.type_url, message.value = draw(TEXT), draw(st.binary(max_size=64))
    else:
        message.type_url = "type.googleapis.com/worker.v1.SendEmailPayload"
        message.value = draw(st.binary(max_size=64))
    return message


@st.composite
def tasks(draw: st.DrawFn, durable: bool) -> Any:
    cls = worker_pb2.DurableTask if durable else worker_pb2.Task
    task: Any = cls(
        name=draw(st.sampled_from(["send_email", "send_email", "fail", "", "nope"]) | TEXT),
        description=draw(TEXT),
        priority=draw(INT32),
        retries=draw(INT32),
        idempotency_key=draw(st.sampled_from(["", "k"]) | TEXT),
        metadata=draw(st.dictionaries(st.sampled_from(["queue", "weight"]) | TEXT,
                                      st.sampled_from(["1", " 5 ", "0", "-1", "x"]) | TEXT, max_size=3)),
    )
    if not durable:
        task.correlation_id = draw(TEXT)
    if draw(st.booleans()):
        task.retry_delay.CopyFrom(duration_pb2.Duration(seconds=draw(st.integers(-(2**63), 2**63 - 1)),
                                                        nanos=draw(INT32)))
    payload = draw(payloads())
    if payload is not None:
        task.payload.CopyFrom(payload)
    if draw(st.integers(0, 9)) == 0:
        task.metadata["huge"] = "x" * 100_000  # over the server's receive limit
    return task


requests = st.one_of(
    st.tuples(st.just("RegisterTasks"), st.lists(tasks(False), max_size=3).map(
        lambda ts: worker_pb2.RegisterTasksRequest(tasks=ts))),
    st.tuples(st.just("RegisterDurableTasks"), st.lists(tasks(True), max_size=3).map(
        lambda ts: worker_pb2.RegisterDurableTasksRequest(tasks=ts))),
    st.tuples(st.just("GetTask"), IDS.map(lambda i: worker_pb2.GetTaskRequest(id=i))),
    st.tuples(st.just("CancelTask"), IDS.map(lambda i: worker_pb2.CancelTaskRequest(id=i))),
    st.tuples(st.just("StreamResults"), st.lists(TEXT, min_size=1, max_size=3).filter(
        lambda ids: any(not _is_uuid(i) for i in ids)).map(lambda ids: worker_pb2.StreamResultsRequest(ids=ids))),
)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text.strip())
    except ValueError:
        return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                              HealthCheck.too_slow])
@given(request=requests)
def test_every_request_gets_a_proper_status_and_the_server_keeps_serving(
    stub: Any, request: tuple[str, Any]
) -> None:
    method, message = request
    try:
        reply = getattr(stub, method)(message, timeout=BOUND)
        if method == "StreamResults":
            list(reply)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        durable_mode = code == grpc.StatusCode.INTERNAL and details == (
            "register durable task: durable backend not configured"
        )
        assert code in PROPER or durable_mode, (code, details)
        assert details, code
    with pytest.raises(grpc.RpcError) as caught:  # still serving: an unknown id is NOT_FOUND
        stub.GetTask(worker_pb2.GetTaskRequest(id=str(uuid.uuid4())), timeout=BOUND)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
