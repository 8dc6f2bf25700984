"""go-worker's AdminService through a real server on 127.0.0.1 over the real Redis, called with stubs
generated from the project's admin.proto (docs/grpc.md, "gRPC AdminService")."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import attrs
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pyworker.adapters.grpc import (
    ADMIN_SERVICE_NAME,
    AuthFunction,
    GrpcServerConfig,
    bearer_token_auth,
    new_grpc_server,
    with_admin_service,
    with_config,
    with_grpc_auth,
)
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, new_redis_client
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.application.admin import AdminGuardrails, AdminService
from pyworker.application.admin import dlq as dlq_module
from pyworker.application.schedules import Tick
from pyworker.domain import DurableState, DurableTask, TaskContext
from pyworker.entrypoints.cli import main
from pyworker.protos.worker.v1 import admin_pb2 as pb
from pyworker.protos.worker.v1 import admin_pb2_grpc, payload_pb2
from tests.support.waits import within

pytestmark = pytest.mark.redis
URL = "redis://127.0.0.1:6379/0"
ACTOR = (("x-admin-actor", "alice"), ("x-request-id", "req-1"))


@attrs.define
class Admin:
    stub: Any  # admin_pb2_grpc.AdminServiceStub (the generated grpc module is untyped)
    channel: grpc.aio.Channel
    backend: RedisDurableBackend
    peer: RedisDurableBackend  # another node on the same prefix
    prefix: str


def nightly(_tick: Tick) -> DurableTask:
    return DurableTask(handler="send_email", payload=payload_pb2.SendEmailPayload(to="ops").SerializeToString(),
                       queue="reports")  # fmt: skip


async def _send(_ctx: TaskContext, message: payload_pb2.SendEmailPayload) -> str:
    return f"sent to {message.to}"


@contextlib.asynccontextmanager
async def admin_server(guardrails: AdminGuardrails | None = None, auth: AuthFunction | None = None
                       ) -> AsyncIterator[Admin]:  # fmt: skip
    prefix = f"pyworker-test-admin-{uuid.uuid4().hex}"
    async with contextlib.AsyncExitStack() as stack:
        clients = [new_redis_client(URL) for _ in range(2)]
        for client in clients:
            stack.push_async_callback(client.aclose)
        stack.push_async_callback(_delete_prefix, clients[0], prefix)
        backend, peer = (RedisDurableBackend(client, prefix=prefix) for client in clients)
        durable = {"send_email": DurableHandlerSpec(make=payload_pb2.SendEmailPayload, fn=_send)}
        manager = TaskManager(durable_backend=backend, durable_handlers=durable)  # never started: nothing leases
        stack.push_async_callback(manager.stop_now)
        manager.register_durable_cron_task("nightly", "0 3 * * *", nightly)
        service = AdminService(backend, backend.queue_weights(), backend.audit_log(), schedules=manager.schedules,
                               nodes=backend.node_registry(), guardrails=guardrails)  # fmt: skip
        options = [with_config(GrpcServerConfig(address="127.0.0.1:0")), with_admin_service(service)]
        if auth is not None:
            options.append(with_grpc_auth(auth))
        server = new_grpc_server(manager, {}, *options)
        port = await server.start()
        stack.push_async_callback(server.stop, None)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        stack.push_async_callback(channel.close)
        yield Admin(admin_pb2_grpc.AdminServiceStub(channel), channel, backend, peer, prefix)  # type: ignore[no-untyped-call]


async def _delete_prefix(client: Any, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=RedisKeys(prefix).pattern)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async with admin_server() as served:
        yield served


async def enqueue(admin: Admin, queue: str, count: int = 1, handler: str = "send_email") -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    for task_id in ids:
        await admin.backend.enqueue(DurableTask(handler=handler, payload=b"xyz", id=task_id, queue=queue,
                                                metadata={"tenant": "t1"}))  # fmt: skip
    return ids


async def dead(admin: Admin, queue: str, count: int = 1, handler: str = "send_email") -> list[uuid.UUID]:
    """``count`` tasks of ``queue`` moved to the DLQ with the error "boom"."""
    ids = await enqueue(admin, queue, count, handler)
    await admin.backend.configure_queues("default", {}, [queue])
    for lease in await admin.backend.dequeue(count, 30.0):
        await admin.backend.fail(lease, "boom")
    await admin.backend.configure_queues("default", {})
    return ids


async def refused(call: Any, code: grpc.StatusCode, text: str = "") -> str:
    """Await ``call``; it must fail with ``code`` (and a message containing ``text``)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await within(call)
    assert caught.value.code() == code, caught.value.details()
    assert text in (caught.value.details() or "")
    return caught.value.details() or ""


def go_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


async def test_health_reflection_and_health_service_know_the_admin_service(admin: Admin) -> None:
    health = await within(admin.stub.GetHealth(pb.GetHealthRequest()))
    assert health.status == "ok"
    assert health.version
    health_stub = cast(Any, health_pb2_grpc.HealthStub(admin.channel))
    checked = await within(health_stub.Check(health_pb2.HealthCheckRequest(service=ADMIN_SERVICE_NAME)))
    assert checked.status == health_pb2.HealthCheckResponse.SERVING
    reflect: Any = reflection_pb2_grpc.ServerReflectionStub(cast(Any, admin.channel))
    call = reflect.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    reply = await within(call.read())
    await call.done_writing()
    names = {service.name for service in reply.list_services_response.service}
    assert {"worker.v1.AdminService", "worker.v1.WorkerService"} <= names


async def test_overview_list_and_get_queue(admin: Admin) -> None:
    await enqueue(admin, "emails", 2)
    await enqueue(admin, "reports", 1)
    await dead(admin, "reports")

    queues = {q.name: q for q in (await within(admin.stub.ListQueues(pb.ListQueuesRequest()))).queues}
    assert (queues["emails"].ready, queues["emails"].dead, queues["emails"].weight) == (2, 0, 1)
    assert (queues["reports"].ready, queues["reports"].dead) == (1, 1)
    got = await within(admin.stub.GetQueue(pb.GetQueueRequest(name=" emails ")))
    assert (got.queue.name, got.queue.ready, got.queue.paused) == ("emails", 2, False)
    overview = await within(admin.stub.GetOverview(pb.GetOverviewRequest()))
    assert (overview.stats.queued_tasks, overview.stats.queues, overview.coordination.paused) == (3, 3, False)
    assert overview.stats.avg_latency_ms == -1

    await refused(admin.stub.GetQueue(pb.GetQueueRequest(name=" ")), grpc.StatusCode.INVALID_ARGUMENT)
    await refused(admin.stub.GetQueue(pb.GetQueueRequest(name="nope")), grpc.StatusCode.NOT_FOUND,
                  "admin queue not found: nope")  # fmt: skip


async def test_a_weight_is_persisted_for_every_node_and_reset(admin: Admin) -> None:
    reply = await within(admin.stub.UpdateQueueWeight(pb.UpdateQueueWeightRequest(name="bulk", weight=4)))
    assert (reply.queue.name, reply.queue.weight) == ("bulk", 4)
    assert await admin.peer.queue_weights().weights() == {"bulk": 4}
    await enqueue(admin, "bulk", 3)
    await enqueue(admin, "urgent", 3)
    leased = [lease.task.queue for lease in await admin.peer.dequeue(6, 30.0)]  # the peer's dequeue obeys it
    assert leased == ["bulk", "bulk", "bulk", "urgent", "urgent", "urgent"]

    await refused(admin.stub.UpdateQueueWeight(pb.UpdateQueueWeightRequest(name="bulk", weight=0)),
                  grpc.StatusCode.INVALID_ARGUMENT, "admin queue weight is invalid")  # fmt: skip
    reset = await within(admin.stub.ResetQueueWeight(pb.ResetQueueWeightRequest(name="bulk")))
    assert reset.queue.weight == 1
    assert await admin.peer.queue_weights().weights() == {}
    await refused(admin.stub.ResetQueueWeight(pb.ResetQueueWeightRequest(name="nope")), grpc.StatusCode.NOT_FOUND)


async def test_pausing_a_queue_stops_every_node_dequeuing_from_it(admin: Admin) -> None:
    await enqueue(admin, "emails", 1)
    await enqueue(admin, "other", 1)
    paused = await within(admin.stub.PauseQueue(pb.PauseQueueRequest(name="emails", paused=True)))
    assert (paused.queue.name, paused.queue.paused) == ("emails", True)
    assert [lease.task.queue for lease in await admin.peer.dequeue(10, 30.0)] == ["other"]
    listed = {q.name: q.paused for q in (await within(admin.stub.ListQueues(pb.ListQueuesRequest()))).queues}
    assert listed["emails"] is True  # still listed while paused (go-worker drops it)
    resumed = await within(admin.stub.PauseQueue(pb.PauseQueueRequest(name="emails", paused=False)))
    assert resumed.queue.paused is False
    assert [lease.task.queue for lease in await admin.peer.dequeue(10, 30.0)] == ["emails"]
    await refused(admin.stub.PauseQueue(pb.PauseQueueRequest(name="nope", paused=True)), grpc.StatusCode.NOT_FOUND)


async def test_pause_and_resume_dequeue(admin: Admin) -> None:
    await enqueue(admin, "emails", 1)
    assert (await within(admin.stub.PauseDequeue(pb.PauseDequeueRequest()))).paused is True
    assert (await admin.backend.stats()).paused is True
    assert await admin.peer.dequeue(10, 30.0) == []
    assert (await within(admin.stub.ResumeDequeue(pb.ResumeDequeueRequest()))).paused is False
    assert len(await admin.peer.dequeue(10, 30.0)) == 1
    overview = await within(admin.stub.GetOverview(pb.GetOverviewRequest()))
    assert (overview.actions.pause, overview.actions.resume) == (1, 1)


async def test_dlq_pages_filters_and_details(admin: Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    emails = await dead(admin, "emails", 2)
    [image] = await dead(admin, "images", 1, handler="resize")

    first = await within(admin.stub.ListDLQ(pb.ListDLQRequest(limit=2)))
    assert (len(first.entries), first.total) == (2, 3)
    assert first.entries[0].id == str(image)  # newest first
    rest = await within(admin.stub.ListDLQ(pb.ListDLQRequest(limit=2, offset=2)))
    assert [e.id for e in rest.entries] == [str(emails[0])]
    by_handler = await within(admin.stub.ListDLQ(pb.ListDLQRequest(handler="resize")))
    assert ([e.id for e in by_handler.entries], by_handler.total) == ([str(image)], 1)
    by_queue = await within(admin.stub.ListDLQ(pb.ListDLQRequest(queue="emails", limit=1, offset=1)))
    assert ([e.id for e in by_queue.entries], by_queue.total) == ([str(emails[0])], 2)
    by_query = await within(admin.stub.ListDLQ(pb.ListDLQRequest(query=str(image)[:8].upper())))
    assert [e.id for e in by_query.entries] == [str(image)]

    detail = (await within(admin.stub.GetDLQEntry(pb.GetDLQEntryRequest(id=str(image))))).entry
    assert (detail.queue, detail.handler, detail.attempts, detail.last_error) == ("images", "resize", 1, "boom")
    assert (detail.payload_size, dict(detail.metadata)) == (3, {"tenant": "t1"})
    assert detail.failed_at_ms > 0
    await refused(admin.stub.GetDLQEntry(pb.GetDLQEntryRequest(id=" ")), grpc.StatusCode.INVALID_ARGUMENT)
    await refused(admin.stub.GetDLQEntry(pb.GetDLQEntryRequest(id=str(uuid.uuid4()))), grpc.StatusCode.NOT_FOUND)

    monkeypatch.setattr(dlq_module, "FILTER_SCAN_MAX", 2)
    await refused(admin.stub.ListDLQ(pb.ListDLQRequest(handler="resize")), grpc.StatusCode.RESOURCE_EXHAUSTED,
                  "DLQ too large for filtered query")  # fmt: skip


async def test_replay_and_replay_by_id_and_their_limits(admin: Admin) -> None:
    oldest, newer = await dead(admin, "emails", 2)
    [waiting] = await enqueue(admin, "emails", 1)

    assert (await within(admin.stub.ReplayDLQ(pb.ReplayDLQRequest(limit=1)))).moved == 1
    assert (await admin.backend.get(oldest)).state is DurableState.READY
    by_id = pb.ReplayDLQByIDRequest(ids=[str(newer), f" {newer} ", "", str(waiting)])
    assert (await within(admin.stub.ReplayDLQByID(by_id))).moved == 1  # the ready task is not a DLQ entry
    assert (await admin.backend.get(newer)).state is DurableState.READY
    assert (await admin.backend.stats()).dead == 0

    await refused(admin.stub.ReplayDLQ(pb.ReplayDLQRequest(limit=1001)), grpc.StatusCode.RESOURCE_EXHAUSTED,
                  "admin replay limit exceeds policy")  # fmt: skip
    await refused(admin.stub.ReplayDLQByID(pb.ReplayDLQByIDRequest(ids=[" "])), grpc.StatusCode.INVALID_ARGUMENT)
    too_many = pb.ReplayDLQByIDRequest(ids=[str(uuid.uuid4()) for _ in range(1001)])
    await refused(admin.stub.ReplayDLQByID(too_many), grpc.StatusCode.RESOURCE_EXHAUSTED,
                  "admin replay ids limit exceeded")  # fmt: skip


async def test_approval_is_required_and_checked_in_constant_time() -> None:
    async with admin_server(AdminGuardrails(require_approval=True, approval_token="s3cret")) as admin:
        await dead(admin, "emails", 1)
        for rpc, request in ((admin.stub.ReplayDLQ, pb.ReplayDLQRequest(limit=1)),
                             (admin.stub.ReplayDLQByID, pb.ReplayDLQByIDRequest(ids=[str(uuid.uuid4())])),
                             (admin.stub.RunSchedule, pb.RunScheduleRequest(name="nightly"))):  # fmt: skip
            await refused(rpc(request), grpc.StatusCode.PERMISSION_DENIED, "admin approval token is required")
            await refused(rpc(request, metadata=(("x-admin-approval", "guess"),)), grpc.StatusCode.PERMISSION_DENIED,
                          "admin approval token is invalid")  # fmt: skip
        approved = (("x-admin-approval", "s3cret"),)
        ok = await within(admin.stub.ReplayDLQ(pb.ReplayDLQRequest(limit=1), metadata=approved))
        assert ok.moved == 1
        events = (await within(admin.stub.ListAuditEvents(pb.ListAuditEventsRequest(action="dlq.replay")))).events
        assert [(e.status, e.metadata.get("code", "")) for e in events] == [
            ("ok", ""), ("error", "permission_denied"), ("error", "permission_denied")]
        assert "admin approval token is invalid" in events[1].detail


async def test_schedules_list_create_pause_run_delete(admin: Admin) -> None:
    factories = (await within(admin.stub.ListScheduleFactories(pb.ListScheduleFactoriesRequest()))).factories
    assert [(f.name, f.durable) for f in factories] == [("nightly", True)]
    [entry] = (await within(admin.stub.ListSchedules(pb.ListSchedulesRequest()))).schedules
    assert (entry.name, entry.spec, entry.durable, entry.paused, entry.last_run_ms) == ("nightly", "0 3 * * *",
                                                                                         True, False, 0)

    run = await within(admin.stub.RunSchedule(pb.RunScheduleRequest(name="nightly")))
    task = await admin.backend.get(uuid.UUID(run.task_id))
    assert (task.handler, task.queue, task.metadata["worker.schedule.name"]) == ("send_email", "reports", "nightly")
    events = (await within(admin.stub.ListScheduleEvents(pb.ListScheduleEventsRequest(name="nightly")))).events
    assert [(e.task_id, e.status, e.spec) for e in events] == [(run.task_id, "fired", "0 3 * * *")]

    paused = await within(admin.stub.PauseSchedule(pb.PauseScheduleRequest(name="nightly", paused=True)))
    assert (paused.schedule.paused, paused.schedule.next_run_ms) == (True, 0)
    created = await within(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="nightly", spec="*/5 * * * *",
                                                                             durable=True)))  # fmt: skip
    assert (created.schedule.spec, created.schedule.durable) == ("*/5 * * * *", True)
    await refused(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="nightly", spec="* * * * *")),
                  grpc.StatusCode.FAILED_PRECONDITION, "durable flag mismatch")  # fmt: skip
    await refused(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="other", spec="* * * * *", durable=True)),
                  grpc.StatusCode.FAILED_PRECONDITION, "factory not found")  # fmt: skip
    await refused(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="nightly", spec="not cron", durable=True)),
                  grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip
    await refused(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="", spec="* * * * *")),
                  grpc.StatusCode.INVALID_ARGUMENT)  # fmt: skip

    all_paused = await within(admin.stub.PauseSchedules(pb.PauseSchedulesRequest(paused=True)))
    assert (all_paused.updated, all_paused.paused) == (1, True)
    assert (await within(admin.stub.DeleteSchedule(pb.DeleteScheduleRequest(name="nightly")))).deleted is True
    assert not (await within(admin.stub.ListSchedules(pb.ListSchedulesRequest()))).schedules
    factories = (await within(admin.stub.ListScheduleFactories(pb.ListScheduleFactoriesRequest()))).factories
    assert [f.name for f in factories] == ["nightly"]  # the factory stays for a later create
    await refused(admin.stub.DeleteSchedule(pb.DeleteScheduleRequest(name="nightly")), grpc.StatusCode.NOT_FOUND)
    await refused(admin.stub.RunSchedule(pb.RunScheduleRequest(name="nightly")), grpc.StatusCode.NOT_FOUND)
    again = await within(admin.stub.CreateSchedule(pb.CreateScheduleRequest(name="nightly", spec="0 4 * * *",
                                                                           durable=True)))  # fmt: skip
    assert again.schedule.spec == "0 4 * * *"


async def test_run_now_is_rate_limited_per_schedule() -> None:
    async with admin_server(AdminGuardrails(schedule_run_max=2, schedule_run_window=60)) as admin:
        for _ in range(2):
            await within(admin.stub.RunSchedule(pb.RunScheduleRequest(name="nightly")))
        await refused(admin.stub.RunSchedule(pb.RunScheduleRequest(name="nightly")),
                      grpc.StatusCode.RESOURCE_EXHAUSTED, "admin schedule run rate limit exceeded")  # fmt: skip
        assert (await admin.backend.stats()).total_ready == 2


async def test_container_job_rpcs_are_unimplemented(admin: Admin) -> None:
    stub = admin.stub
    calls: list[Callable[[], Any]] = [
        lambda: stub.ListJobs(pb.ListJobsRequest()), lambda: stub.ListJobEvents(pb.ListJobEventsRequest()),
        lambda: stub.GetJob(pb.GetJobRequest(name="build")),
        lambda: stub.UpsertJob(pb.UpsertJobRequest(spec=pb.JobSpec(name="build", repo="r", tag="v1"))),
        lambda: stub.DeleteJob(pb.DeleteJobRequest(name="build")),
        lambda: stub.RunJob(pb.RunJobRequest(name="build")),
    ]  # fmt: skip
    for call in calls:  # one after the other: the audit order is the call order
        await refused(call(), grpc.StatusCode.UNIMPLEMENTED, "container jobs are not supported by pyworker")
    audited = (await within(admin.stub.ListAuditEvents(pb.ListAuditEventsRequest()))).events
    assert [(e.action, e.target, e.status) for e in audited] == [
        ("job.run", "build", "error"), ("job.delete", "build", "error"), ("job.upsert", "build", "error")]


async def test_every_mutating_rpc_records_an_audit_event(admin: Admin, capsys: pytest.CaptureFixture[str]) -> None:
    await enqueue(admin, "emails", 1)
    [dead_id] = await dead(admin, "emails", 1)
    stub, md = admin.stub, ACTOR
    await within(stub.UpdateQueueWeight(pb.UpdateQueueWeightRequest(name="emails", weight=2), metadata=md))
    await within(stub.ResetQueueWeight(pb.ResetQueueWeightRequest(name="emails"), metadata=md))
    await within(stub.PauseQueue(pb.PauseQueueRequest(name="emails", paused=True), metadata=md))
    await within(stub.PauseDequeue(pb.PauseDequeueRequest(), metadata=md))
    await within(stub.ResumeDequeue(pb.ResumeDequeueRequest(), metadata=md))
    await within(stub.ReplayDLQ(pb.ReplayDLQRequest(limit=1), metadata=md))
    await within(stub.ReplayDLQByID(pb.ReplayDLQByIDRequest(ids=[str(dead_id)]), metadata=md))
    await within(stub.PauseSchedule(pb.PauseScheduleRequest(name="nightly", paused=True), metadata=md))
    await within(stub.PauseSchedules(pb.PauseSchedulesRequest(paused=False), metadata=md))
    await within(stub.RunSchedule(pb.RunScheduleRequest(name="nightly"), metadata=md))
    await within(stub.CreateSchedule(pb.CreateScheduleRequest(name="nightly", spec="0 5 * * *", durable=True),
                                     metadata=md))  # fmt: skip
    await within(stub.DeleteSchedule(pb.DeleteScheduleRequest(name="nightly"), metadata=md))
    await refused(stub.PauseQueue(pb.PauseQueueRequest(name="nope", paused=True), metadata=md),
                  grpc.StatusCode.NOT_FOUND)  # fmt: skip

    events = (await within(stub.ListAuditEvents(pb.ListAuditEventsRequest()))).events
    expected = [
        ("queue.pause", "nope", "error"), ("schedule.delete", "nightly", "ok"), ("schedule.create", "nightly", "ok"),
        ("schedule.run", "nightly", "ok"), ("schedule.pause_all", "*", "ok"), ("schedule.pause", "nightly", "ok"),
        ("dlq.replay_ids", "*", "ok"), ("dlq.replay", "*", "ok"), ("dequeue.resume", "*", "ok"),
        ("dequeue.pause", "*", "ok"), ("queue.pause", "emails", "ok"), ("queue.reset_weight", "emails", "ok"),
        ("queue.update_weight", "emails", "ok"),
    ]  # fmt: skip
    assert [(e.action, e.target, e.status) for e in events] == expected
    assert {(e.actor, e.request_id) for e in events} == {("alice", "req-1")}
    weight = events[-1]
    assert weight.payload_hash == go_hash({"name": "emails", "weight": 2})
    assert events[9].payload_hash == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # {}
    assert events[0].metadata["code"] == "not_found"
    assert "admin queue not found" in events[0].detail
    only = (await within(stub.ListAuditEvents(pb.ListAuditEventsRequest(action="queue.pause", target="emails")))).events
    assert [(e.action, e.target) for e in only] == [("queue.pause", "emails")]

    lines = await cli(capsys, "audit", "list", "--json", "--redis-prefix", admin.prefix)
    assert [(line["action"], line["target"], line["status"], line["actor"]) for line in map(json.loads, lines)] == [
        (a, t, s, "alice") for a, t, s in expected]
    csv_lines = await cli(capsys, "audit", "export", "--format", "csv", "--action", "dlq.replay",
                          "--redis-prefix", admin.prefix)  # fmt: skip
    assert csv_lines[0] == "at,actor,request_id,action,target,status,payload_hash,detail"
    assert csv_lines[1].split(",")[1:6] == ["alice", "req-1", "dlq.replay", "*", "ok"]
    assert len(csv_lines) == 2


async def test_an_auth_refusal_of_a_mutating_rpc_is_audited() -> None:
    async with admin_server(auth=bearer_token_auth(["tok"])) as admin:
        await refused(admin.stub.PauseDequeue(pb.PauseDequeueRequest(), metadata=ACTOR),
                      grpc.StatusCode.UNAUTHENTICATED)  # fmt: skip
        assert (await admin.backend.stats()).paused is False
        bearer = (("authorization", "Bearer tok"),)
        events = (await within(admin.stub.ListAuditEvents(pb.ListAuditEventsRequest(), metadata=bearer))).events
        assert [(e.action, e.status, e.actor) for e in events] == [("dequeue.pause", "error", "alice")]
        await refused(admin.stub.ListQueues(pb.ListQueuesRequest()), grpc.StatusCode.UNAUTHENTICATED)


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Sequence[str]:
    """``workerctl durable <argv>`` on the real Redis (in a thread: it runs its own event loop)."""
    capsys.readouterr()
    code = await within(asyncio.to_thread(main, ["durable", *argv, "--redis-url", URL]), 20)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out.splitlines()
