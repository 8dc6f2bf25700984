"""Wire-compatibility guard for admin.proto: go-worker's AdminService, message by message (docs/grpc.md)."""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from pyworker.protos.worker.v1 import admin_pb2, admin_pb2_grpc

S, I32, I64, B = "string", "int32", "int64", "bool"
MAP = "map<string,string>"
QUEUE = {"queue": (1, "worker.v1.QueueSummary")}
ENTRY = {"schedule": (1, "worker.v1.ScheduleEntry")}
JOB = {"job": (1, "worker.v1.Job")}
NAME = {"name": (1, S)}

# go-worker's admin.proto, field by field: name -> (number, type).
EXPECTED: dict[str, dict[str, tuple[int, str]]] = {
    **{name: {} for name in (
        "GetHealthRequest", "GetOverviewRequest", "ListQueuesRequest", "ListJobsRequest",
        "ListScheduleFactoriesRequest", "ListSchedulesRequest", "PauseDequeueRequest", "ResumeDequeueRequest",
    )},
    "GetHealthResponse": {"status": (1, S), "version": (2, S), "commit": (3, S), "build_time": (4, S),
                          "go_version": (5, S)},
    "OverviewStats": {"active_workers": (1, I32), "queued_tasks": (2, I64), "queues": (3, I32),
                      "avg_latency_ms": (4, I64), "p95_latency_ms": (5, I64)},
    "CoordinationStatus": {"global_rate_limit": (1, S), "leader_lock": (2, S), "lease": (3, S), "paused": (4, B)},
    "AdminActionCounters": {"pause": (1, I64), "resume": (2, I64), "replay": (3, I64)},
    "GetOverviewResponse": {"stats": (1, "worker.v1.OverviewStats"),
                            "coordination": (2, "worker.v1.CoordinationStatus"),
                            "actions": (3, "worker.v1.AdminActionCounters")},
    "QueueSummary": {"name": (1, S), "ready": (2, I64), "processing": (3, I64), "dead": (4, I64),
                     "weight": (5, I32), "paused": (6, B)},
    "ListQueuesResponse": {"queues": (1, "repeated worker.v1.QueueSummary")},
    "GetQueueRequest": NAME,
    "ResetQueueWeightRequest": NAME,
    "UpdateQueueWeightRequest": {"name": (1, S), "weight": (2, I32)},
    "PauseQueueRequest": {"name": (1, S), "paused": (2, B)},
    "GetQueueResponse": QUEUE,
    "UpdateQueueWeightResponse": QUEUE,
    "ResetQueueWeightResponse": QUEUE,
    "PauseQueueResponse": QUEUE,
    "ScheduleEntry": {"name": (1, S), "spec": (2, S), "next_run_ms": (3, I64), "last_run_ms": (4, I64),
                      "durable": (5, B), "paused": (6, B)},
    "ScheduleFactory": {"name": (1, S), "durable": (2, B)},
    "ScheduleEvent": {"task_id": (1, S), "name": (2, S), "spec": (3, S), "durable": (4, B), "status": (5, S),
                      "queue": (6, S), "started_at_ms": (7, I64), "finished_at_ms": (8, I64), "duration_ms": (9, I64),
                      "result": (10, S), "error": (11, S), "metadata": (12, MAP)},
    "ListScheduleFactoriesResponse": {"factories": (1, "repeated worker.v1.ScheduleFactory")},
    "ListScheduleEventsRequest": {"name": (1, S), "limit": (2, I32)},
    "ListScheduleEventsResponse": {"events": (1, "repeated worker.v1.ScheduleEvent")},
    "ListSchedulesResponse": {"schedules": (1, "repeated worker.v1.ScheduleEntry")},
    "CreateScheduleRequest": {"name": (1, S), "spec": (2, S), "durable": (3, B)},
    "CreateScheduleResponse": ENTRY,
    "PauseScheduleResponse": ENTRY,
    "DeleteScheduleRequest": NAME,
    "RunScheduleRequest": NAME,
    "DeleteScheduleResponse": {"deleted": (1, B)},
    "PauseScheduleRequest": {"name": (1, S), "paused": (2, B)},
    "RunScheduleResponse": {"task_id": (1, S)},
    "PauseSchedulesRequest": {"paused": (1, B)},
    "PauseSchedulesResponse": {"updated": (1, I32), "paused": (2, B)},
    "JobSpec": {"name": (1, S), "description": (2, S), "repo": (3, S), "tag": (4, S), "path": (5, S),
                "dockerfile": (6, S), "command": (7, "repeated string"), "env": (8, "repeated string"),
                "queue": (9, S), "retries": (10, I32), "timeout_seconds": (11, I32), "source": (12, S),
                "tarball_url": (13, S), "tarball_path": (14, S), "tarball_sha256": (15, S)},
    "Job": {"spec": (1, "worker.v1.JobSpec"), "created_at_ms": (2, I64), "updated_at_ms": (3, I64)},
    "JobEvent": {"task_id": (1, S), "name": (2, S), "status": (3, S), "queue": (4, S), "repo": (5, S),
                 "tag": (6, S), "path": (7, S), "dockerfile": (8, S), "command": (9, S), "schedule_name": (10, S),
                 "schedule_spec": (11, S), "started_at_ms": (12, I64), "finished_at_ms": (13, I64),
                 "duration_ms": (14, I64), "result": (15, S), "error": (16, S), "metadata": (17, MAP)},
    "ListJobsResponse": {"jobs": (1, "repeated worker.v1.Job")},
    "ListJobEventsRequest": {"name": (1, S), "limit": (2, I32)},
    "ListJobEventsResponse": {"events": (1, "repeated worker.v1.JobEvent")},
    "AuditEvent": {"at_ms": (1, I64), "actor": (2, S), "request_id": (3, S), "action": (4, S), "target": (5, S),
                   "status": (6, S), "payload_hash": (7, S), "detail": (8, S), "metadata": (9, MAP)},
    "ListAuditEventsRequest": {"action": (1, S), "target": (2, S), "limit": (3, I32)},
    "ListAuditEventsResponse": {"events": (1, "repeated worker.v1.AuditEvent")},
    "GetJobRequest": NAME,
    "DeleteJobRequest": NAME,
    "RunJobRequest": NAME,
    "GetJobResponse": JOB,
    "UpsertJobResponse": JOB,
    "UpsertJobRequest": {"spec": (1, "worker.v1.JobSpec")},
    "DeleteJobResponse": {"deleted": (1, B)},
    "RunJobResponse": {"task_id": (1, S)},
    "DLQEntry": {"id": (1, S), "queue": (2, S), "handler": (3, S), "attempts": (4, I32), "age_ms": (5, I64)},
    "DLQEntryDetail": {"id": (1, S), "queue": (2, S), "handler": (3, S), "attempts": (4, I32), "age_ms": (5, I64),
                       "failed_at_ms": (6, I64), "updated_at_ms": (7, I64), "last_error": (8, S),
                       "payload_size": (9, I64), "metadata": (10, MAP)},
    "GetDLQEntryRequest": {"id": (1, S)},
    "GetDLQEntryResponse": {"entry": (1, "worker.v1.DLQEntryDetail")},
    "ListDLQRequest": {"limit": (1, I32), "offset": (2, I32), "queue": (3, S), "handler": (4, S), "query": (5, S)},
    "ListDLQResponse": {"entries": (1, "repeated worker.v1.DLQEntry"), "total": (2, I64)},
    "PauseDequeueResponse": {"paused": (1, B)},
    "ResumeDequeueResponse": {"paused": (1, B)},
    "ReplayDLQRequest": {"limit": (1, I32)},
    "ReplayDLQByIDRequest": {"ids": (1, "repeated string")},
    "ReplayDLQResponse": {"moved": (1, I32)},
    "ReplayDLQByIDResponse": {"moved": (1, I32)},
}

#: go-worker's service order (28 unary RPCs).
RPCS = [
    "GetHealth", "GetOverview", "ListQueues", "GetQueue", "UpdateQueueWeight", "ResetQueueWeight", "PauseQueue",
    "ListJobs", "ListJobEvents", "ListAuditEvents", "GetJob", "UpsertJob", "DeleteJob", "RunJob",
    "ListScheduleFactories", "ListScheduleEvents", "ListSchedules", "CreateSchedule", "DeleteSchedule",
    "PauseSchedule", "RunSchedule", "PauseSchedules", "ListDLQ", "GetDLQEntry", "PauseDequeue", "ResumeDequeue",
    "ReplayDLQ", "ReplayDLQByID",
]

_SCALARS = {FieldDescriptor.TYPE_STRING: S, FieldDescriptor.TYPE_INT32: I32, FieldDescriptor.TYPE_INT64: I64,
            FieldDescriptor.TYPE_BOOL: B}


def _render(field: FieldDescriptor) -> str:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return f"map<{_render(message.fields_by_name['key'])},{_render(message.fields_by_name['value'])}>"
    base = message.full_name if message is not None else _SCALARS.get(field.type, f"type#{field.type}")
    return f"repeated {base}" if field.is_repeated else base


def _fields(message: Descriptor) -> dict[str, tuple[int, str]]:
    return {field.name: (field.number, _render(field)) for field in message.fields}


def test_admin_proto_is_worker_v1_with_exactly_the_upstream_messages() -> None:
    assert admin_pb2.DESCRIPTOR.package == "worker.v1"
    assert set(admin_pb2.DESCRIPTOR.message_types_by_name) == set(EXPECTED)
    assert not admin_pb2.DESCRIPTOR.enum_types_by_name


def test_every_admin_message_has_the_upstream_fields_and_numbers() -> None:
    for name, expected in EXPECTED.items():
        message = admin_pb2.DESCRIPTOR.message_types_by_name[name]
        assert message.full_name == f"worker.v1.{name}"
        assert _fields(message) == expected, name
        assert not message.oneofs
        for field in message.fields:
            if field.message_type is None and not field.is_repeated:
                assert not field.has_presence, f"{name}.{field.name} must not be `optional`"


def test_admin_service_has_the_28_unary_rpcs_in_upstream_order() -> None:
    service = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
    assert service.full_name == "worker.v1.AdminService"
    assert [method.name for method in service.methods] == RPCS
    for method in service.methods:
        assert (method.input_type.name, method.output_type.name) == (f"{method.name}Request", f"{method.name}Response")
        assert not method.client_streaming
        assert not method.server_streaming
    assert all(hasattr(admin_pb2_grpc.AdminServiceServicer, rpc) for rpc in RPCS)
