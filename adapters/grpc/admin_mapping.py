"""AdminService messages <-> the admin plane's values, and the admin error -> gRPC status table."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from pyworker.application.admin import (
    Overview,
    RequestContext,
    ScheduleEntry,
    ScheduleEvent,
    error_code,
)
from pyworker.domain import DurableTaskRecord, WorkerError
from pyworker.domain.admin import AuditEvent, QueueSummary
from pyworker.domain.duration import to_ms
from pyworker.protos.worker.v1 import admin_pb2

INT32_MAX = 2**31 - 1
_log = logging.getLogger("pyworker.grpc")
#: The admin error kinds (pyworker.application.admin.error_code) -> status codes (docs/grpc.md).
ADMIN_STATUS: dict[str, grpc.StatusCode] = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "resource_exhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "unimplemented": grpc.StatusCode.UNIMPLEMENTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "internal": grpc.StatusCode.INTERNAL,
}


def admin_status(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status of an admin failure; the message is the error's own text. An error that is
    not a WorkerError is a bug: logged with its traceback, answered without its text."""
    code = ADMIN_STATUS[error_code(exc)]
    if not isinstance(exc, WorkerError):
        _log.error("unexpected error serving an admin RPC", exc_info=exc)
        return code, f"internal error ({type(exc).__name__})"
    if code is grpc.StatusCode.INTERNAL:
        return code, f"internal error: {exc}"
    return code, str(exc)


def _first(metadata: Any, key: str) -> str:
    for name, value in metadata or ():
        if name.lower() == key and isinstance(value, str):
            return value.strip()
    return ""


def request_context(metadata: Any) -> RequestContext:
    """The caller as its metadata names it: ``x-admin-actor``, ``x-request-id``, ``x-admin-approval``."""
    return RequestContext(
        actor=_first(metadata, "x-admin-actor"),
        request_id=_first(metadata, "x-request-id"),
        approval=_first(metadata, "x-admin-approval"),
    )


def fields(request: Message) -> dict[str, Any]:
    """A request's fields as go-worker hashes them for the audit log: proto names, declaration
    order, zero values left out (``payload_hash``)."""
    return json_format.MessageToDict(request, preserving_proto_field_name=True)


def sat32(value: int) -> int:
    """int -> int32, saturating (go-worker's conversions)."""
    return max(-INT32_MAX - 1, min(INT32_MAX, int(value)))


def ms(at: float | None) -> int:
    return 0 if at is None else to_ms(at)


def queue_message(q: QueueSummary) -> admin_pb2.QueueSummary:
    return admin_pb2.QueueSummary(name=q.name, ready=q.ready, processing=q.processing, dead=q.dead,
                                  weight=sat32(q.weight), paused=q.paused)  # fmt: skip


def overview_message(o: Overview) -> admin_pb2.GetOverviewResponse:
    return admin_pb2.GetOverviewResponse(
        stats=admin_pb2.OverviewStats(active_workers=sat32(o.active_workers), queued_tasks=o.queued_tasks,
                                      queues=sat32(o.queues), avg_latency_ms=-1, p95_latency_ms=-1),
        coordination=admin_pb2.CoordinationStatus(global_rate_limit="disabled", leader_lock="disabled",
                                                  lease="n/a", paused=o.paused),
        actions=admin_pb2.AdminActionCounters(pause=o.pauses, resume=o.resumes, replay=o.replays),
    )  # fmt: skip


def _age_ms(record: DurableTaskRecord, now: float) -> int:
    since = record.failed_at if record.failed_at is not None else record.updated_at
    return 0 if since is None else max(to_ms(now) - to_ms(since), 0)


def dlq_entry(record: DurableTaskRecord, now: float) -> admin_pb2.DLQEntry:
    return admin_pb2.DLQEntry(id=str(record.id), queue=record.queue, handler=record.handler,
                              attempts=sat32(record.attempts), age_ms=_age_ms(record, now))  # fmt: skip


def dlq_detail(record: DurableTaskRecord, now: float) -> admin_pb2.DLQEntryDetail:
    return admin_pb2.DLQEntryDetail(
        id=str(record.id), queue=record.queue, handler=record.handler, attempts=sat32(record.attempts),
        age_ms=_age_ms(record, now), failed_at_ms=ms(record.failed_at), updated_at_ms=ms(record.updated_at),
        last_error=record.last_error, payload_size=len(record.payload), metadata=dict(record.metadata),
    )  # fmt: skip


def schedule_entry(e: ScheduleEntry) -> admin_pb2.ScheduleEntry:
    return admin_pb2.ScheduleEntry(name=e.name, spec=e.spec, next_run_ms=ms(e.next_run), last_run_ms=ms(e.last_run),
                                   durable=e.durable, paused=e.paused)  # fmt: skip


def schedule_event(e: ScheduleEvent) -> admin_pb2.ScheduleEvent:
    return admin_pb2.ScheduleEvent(task_id="" if e.task_id is None else str(e.task_id), name=e.name, spec=e.spec,
                                   durable=e.durable, status=e.status, started_at_ms=ms(e.at))  # fmt: skip


def audit_message(e: AuditEvent) -> admin_pb2.AuditEvent:
    return admin_pb2.AuditEvent(at_ms=ms(e.at), actor=e.actor, request_id=e.request_id, action=e.action,
                                target=e.target, status=e.status, payload_hash=e.payload_hash, detail=e.detail,
                                metadata=dict(e.metadata))  # fmt: skip
