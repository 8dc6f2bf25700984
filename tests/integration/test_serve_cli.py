"""`workerctl serve` end to end: a real process, a real channel, SIGTERM drains."""

from __future__ import annotations

import signal
import uuid
from typing import Any

import grpc
import pytest
import redis
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_USAGE
from pyworker.protos.worker.v1 import admin_pb2, admin_pb2_grpc, payload_pb2, worker_pb2, worker_pb2_grpc
from tests.support.serve_process import BOUND, ServeProcess, workerctl_serve

pytestmark = pytest.mark.slow


def email_task(message_type: Any, to: str) -> Any:
    task = message_type(name="send_email")
    task.payload.Pack(payload_pb2.SendEmailPayload(to=to))
    return task


def test_serve_runs_the_example_handler_and_drains_on_sigterm() -> None:
    with workerctl_serve() as served, grpc.insecure_channel(served.target) as channel:
        stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
        reply = stub.RegisterTasks(
            worker_pb2.RegisterTasksRequest(tasks=[email_task(worker_pb2.Task, "ann@example.com")]), timeout=BOUND
        )
        (task_id,) = reply.ids
        stream = stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True),
                                    timeout=BOUND)
        assert [(r.id, r.output) for r in stream] == [(task_id, "sent to ann@example.com")]
        reflection: Any = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                  timeout=BOUND)
        names = {s.name for reply in replies for s in reply.list_services_response.service}
        assert "worker.v1.WorkerService" in names
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=BOUND) == 0
        rest = []
        while (line := served.lines.get(timeout=BOUND)) is not None:
            rest.append(line)
        assert rest[-1] == "serve: stopped"


def _wait_running(stub: Any, task_id: str) -> None:
    for _ in range(1000):  # bounded: each GetTask is a round trip
        if stub.GetTask(worker_pb2.GetTaskRequest(id=task_id), timeout=BOUND).status == "Running":
            return
    raise AssertionError("the task never ran")


def _register(stub: Any, name: str) -> str:
    task = email_task(worker_pb2.Task, "x@example.com")
    task.name = name
    (task_id,) = stub.RegisterTasks(worker_pb2.RegisterTasksRequest(tasks=[task]), timeout=BOUND).ids
    return str(task_id)


def test_sigterm_lets_the_running_task_finish_and_its_stream_receive_it() -> None:
    with workerctl_serve("--app", "tests.support.grpc_app:registry") as served, \
            grpc.insecure_channel(served.target) as channel:
        stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
        task_id = _register(stub, "slow")
        stream = stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True),
                                    timeout=BOUND)
        _wait_running(stub, task_id)
        served.process.send_signal(signal.SIGTERM)
        assert [(r.id, r.output) for r in stream] == [(task_id, "done")]
        assert served.process.wait(timeout=BOUND) == 0


def test_a_second_signal_stops_at_once() -> None:
    with workerctl_serve("--app", "tests.support.grpc_app:registry", "--grace", "1h") as served, \
            grpc.insecure_channel(served.target) as channel:
        stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
        _wait_running(stub, _register(stub, "forever"))
        served.process.send_signal(signal.SIGTERM)
        assert served.next_line("the drain line").startswith("serve: draining for up to 3600s")
        served.process.send_signal(signal.SIGTERM)
        assert served.next_line("the stop line") == "serve: stopping now"
        assert served.process.wait(timeout=BOUND) == 0


@pytest.mark.redis
def test_serve_on_redis_registers_durable_tasks_and_get_task_reads_the_record() -> None:
    prefix = f"pyworker-test-{uuid.uuid4().hex}"
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        with workerctl_serve("--backend", "redis", "--redis-prefix", prefix) as served, \
                grpc.insecure_channel(served.target) as channel:
            stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
            request = worker_pb2.RegisterDurableTasksRequest(
                tasks=[email_task(worker_pb2.DurableTask, "bo@example.com")]
            )
            (task_id,) = stub.RegisterDurableTasks(request, timeout=BOUND).ids
            stream = stub.StreamResults(worker_pb2.StreamResultsRequest(ids=[task_id], close_on_completion=True),
                                        timeout=BOUND)
            assert [(r.id, r.output) for r in stream] == [(task_id, "sent to bo@example.com")]
            snapshot = stub.GetTask(worker_pb2.GetTaskRequest(id=task_id), timeout=BOUND)
            assert (snapshot.id, snapshot.status) == (task_id, "Completed")
    finally:
        keys = list(client.scan_iter(match=f"{{{prefix}}}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_serve_refuses_half_a_tls_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--tls-cert", "cert.pem"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == [
        "workerctl: --tls-cert and --tls-key go together (and --tls-client-ca needs them)"
    ]


def test_serve_with_a_bearer_token_from_the_environment() -> None:
    env = {"BENCH_TOKEN": "tok-123"}
    with workerctl_serve("--auth-token-env", "BENCH_TOKEN", env=env) as served, \
            grpc.insecure_channel(served.target) as channel:
        stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
        request = worker_pb2.GetTaskRequest(id=str(uuid.uuid4()))
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetTask(request, timeout=BOUND)
        assert (caught.value.code(), caught.value.details()) == (
            grpc.StatusCode.UNAUTHENTICATED, "missing bearer token"
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetTask(request, timeout=BOUND, metadata=(("authorization", "Bearer tok-123"),))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # authorised: the id is just unknown
    assert "tok-123" not in "\n".join(iter_lines(served))


def iter_lines(served: ServeProcess) -> list[str]:
    lines = []
    while not served.lines.empty():
        line = served.lines.get_nowait()
        if line is not None:
            lines.append(line)
    return lines


def test_serve_answers_the_admin_service_with_guardrails_from_the_environment() -> None:
    env = {"WORKER_ADMIN_REQUIRE_APPROVAL": "1", "PYWORKER_ADMIN_APPROVAL_TOKEN": "let-me"}
    with workerctl_serve("--backend", "durable-memory", env=env) as served, \
            grpc.insecure_channel(served.target) as channel:
        admin: Any = admin_pb2_grpc.AdminServiceStub(channel)  # type: ignore[no-untyped-call]
        queues = admin.ListQueues(admin_pb2.ListQueuesRequest(), timeout=BOUND).queues
        assert [q.name for q in queues] == ["default"]
        with pytest.raises(grpc.RpcError) as caught:
            admin.ReplayDLQ(admin_pb2.ReplayDLQRequest(limit=1), timeout=BOUND)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        approved = admin.ReplayDLQ(admin_pb2.ReplayDLQRequest(limit=1), metadata=(("x-admin-approval", "let-me"),),
                                   timeout=BOUND)  # fmt: skip
        assert approved.moved == 0
        events = admin.ListAuditEvents(admin_pb2.ListAuditEventsRequest(), timeout=BOUND).events
        assert [(e.action, e.status) for e in events] == [("dlq.replay", "ok"), ("dlq.replay", "error")]
