"""go-worker's /admin/v1 routes: each decodes, calls one AdminService method, encodes (docs/admin.md)."""

from __future__ import annotations

import csv
import io
import json
import platform
import time
from importlib import metadata
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pyworker.adapters.web.gateway.core import Call, bool_field, endpoint, int_field, str_field
from pyworker.adapters.web.gateway.encode import (
    audit_json,
    dlq_detail_json,
    dlq_entry_json,
    ms,
    overview_json,
    queue_json,
    schedule_event_json,
    schedule_json,
)
from pyworker.adapters.web.gateway.errors import GatewayError
from pyworker.adapters.web.gateway.metrics import (
    PROMETHEUS_FORMATS,
    PROMETHEUS_TYPE,
    metrics_json,
    prometheus_text,
    snapshot,
)
from pyworker.adapters.web.gateway.sse import SSE_HEADERS, last_event_id
from pyworker.application.admin import JOBS_UNSUPPORTED
from pyworker.domain import DurableTaskRecord
from pyworker.domain.admin import AdminError, AuditEvent

#: go-worker's defaults for the list routes.
DLQ_PAGE = 200
AUDIT_PAGE = 500
EVENTS_PAGE = 200
CSV_COLUMNS = ("at", "actor", "request_id", "action", "target", "status", "payload_hash", "detail")


def _version() -> str:
    try:
        return metadata.version("pyworker")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "dev"


async def health(_call: Call) -> dict[str, Any]:
    # goVersion carries the runtime, as the gRPC GetHealth does.
    return {"status": "ok", "version": _version(), "commit": "", "buildTime": "",
            "goVersion": f"python{platform.python_version()}"}  # fmt: skip


async def overview(call: Call) -> dict[str, Any]:
    return overview_json(await call.admin.overview())


# -- queues: /queues/{name}, /queues/{name}/weight, /queues/{name}/pause (a name may hold "/") ----


def _queue_name(call: Call, suffix: str = "") -> str:
    name = call.path("name")
    name = name.removesuffix(suffix) if suffix else name
    if not name.strip():
        raise GatewayError(400, "missing_queue", "Queue name is required")
    return name


async def list_queues(call: Call) -> dict[str, Any]:
    return {"queues": [queue_json(q) for q in await call.admin.list_queues()]}


async def queue(call: Call) -> dict[str, Any]:
    """GET a queue, or (by the path's last part) its weight (POST, DELETE) or its pause (POST)."""
    path, method = call.path("name"), call.request.method
    if path.endswith("/weight") and method in ("POST", "DELETE"):
        name = _queue_name(call, "/weight")
        if method == "DELETE":
            return {"queue": queue_json(await call.admin.reset_queue_weight(call.context(), name))}
        weight = int_field(await call.body(), "weight", 0)
        return {"queue": queue_json(await call.admin.update_queue_weight(call.context(), name, weight))}
    if path.endswith("/pause") and method == "POST":
        name = _queue_name(call, "/pause")
        paused = bool_field(await call.body(), "paused", True)
        return {"queue": queue_json(await call.admin.pause_queue(call.context(approval=True), name, paused))}
    if method != "GET" or path.endswith(("/weight", "/pause")):  # sub-routes are found by suffix (go-worker's)
        raise GatewayError(405, "method_not_allowed", "Method not allowed")
    return {"queue": queue_json(await call.admin.get_queue(_queue_name(call)))}


# -- schedules --------------------------------------------------------------------------------


async def list_schedules(call: Call) -> dict[str, Any]:
    now = time.time()
    return {"schedules": [schedule_json(e, now) for e in await call.admin.list_schedules()]}


async def create_schedule(call: Call) -> dict[str, Any]:
    body = await call.body()
    entry = await call.admin.create_schedule(call.context(), str_field(body, "name"), str_field(body, "spec"),
                                             bool_field(body, "durable", False))  # fmt: skip
    return {"schedule": schedule_json(entry, time.time())}


async def delete_schedule(call: Call) -> dict[str, Any]:
    return {"deleted": await call.admin.delete_schedule(call.context(), call.path("name"))}


async def pause_schedule(call: Call) -> dict[str, Any]:
    paused = bool_field(await call.body(), "paused", True)
    entry = await call.admin.pause_schedule(call.context(approval=True), call.path("name"), paused)
    return {"schedule": schedule_json(entry, time.time())}


async def run_schedule(call: Call) -> dict[str, Any]:
    name = call.path("name")
    task_id = await call.admin.run_schedule(call.context(approval=True), name)
    if task_id is None:
        raise AdminError(reason=f"schedule {name.strip()}: its factory failed (see the log)")
    return {"taskId": str(task_id)}


async def pause_schedules(call: Call) -> dict[str, Any]:
    paused = bool_field(await call.body(), "paused", True)
    return {"updated": await call.admin.pause_schedules(call.context(approval=True), paused), "paused": paused}


async def schedule_events(call: Call) -> dict[str, Any]:
    name = call.request.query_params.get("name", "")
    events = await call.admin.schedule_events(name, call.query_int("limit", EVENTS_PAGE))
    return {"events": [schedule_event_json(e) for e in events]}


async def schedule_factories(call: Call) -> dict[str, Any]:
    return {"factories": [{"name": n, "durable": d} for n, d in await call.admin.schedule_factories()]}


# -- container jobs: 501 ----------------------------------------------------------------------


async def job_read(_call: Call) -> dict[str, Any]:
    raise GatewayError(501, "unimplemented", JOBS_UNSUPPORTED)


def job_action(action: str) -> Any:
    """A job change: refused and audited (``job.upsert``, ``job.delete``, ``job.run``)."""

    async def refuse(call: Call) -> dict[str, Any]:
        target, fields = call.path("name"), dict[str, Any](name=call.path("name"))
        if action == "job.upsert":
            body = await call.body()
            target, fields = str(body.get("name", "")), {"spec": body}
        await call.admin.job_action(call.context(approval=action == "job.run"), action, target, fields)
        raise AssertionError("job actions always fail")  # pragma: no cover

    return refuse


# -- the DLQ and dequeue ----------------------------------------------------------------------


async def list_dlq(call: Call) -> dict[str, Any]:
    q = call.request.query_params
    offset = q.get("offset", "0").strip()
    page = await call.admin.list_dlq(
        limit=call.query_int("limit", DLQ_PAGE), offset=max(int(offset), 0) if offset.lstrip("-").isdigit() else 0,
        queue=q.get("queue", ""), handler=q.get("handler", ""), query=q.get("query", ""),
    )  # fmt: skip
    now = time.time()
    return {"entries": [dlq_entry_json(r, now) for r in page.entries], "total": page.total}


async def dlq_entry(call: Call) -> dict[str, Any]:
    task_id = call.path("task_id")
    if not task_id.strip():
        raise GatewayError(400, "missing_dlq_id", "DLQ entry id is required")
    record: DurableTaskRecord = await call.admin.get_dlq_entry(task_id)
    return {"entry": dlq_detail_json(record, time.time())}


async def replay_dlq(call: Call) -> dict[str, Any]:
    limit = int_field(await call.body(), "limit", 0)  # <= 0: 100 (a body that does not parse is refused)
    return {"moved": await call.admin.replay_dlq(call.context(approval=True), limit)}


async def replay_dlq_ids(call: Call) -> dict[str, Any]:
    body = await call.body(code="invalid_body", message="Invalid request body")
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise GatewayError(400, "invalid_body", "Invalid request body")
    return {"moved": await call.admin.replay_dlq_ids(call.context(approval=True), ids)}


async def pause(call: Call) -> dict[str, Any]:
    return {"paused": await call.admin.pause_dequeue(call.context())}


async def resume(call: Call) -> dict[str, Any]:
    return {"paused": await call.admin.resume_dequeue(call.context())}


# -- audit, metrics, events -------------------------------------------------------------------


async def _audit(call: Call, limit: int) -> list[AuditEvent]:
    q = call.request.query_params
    return await call.admin.audit_events(action=q.get("action", ""), target=q.get("target", ""), limit=limit)


async def audit(call: Call) -> dict[str, Any]:
    return {"events": [audit_json(e) for e in await _audit(call, call.query_int("limit", AUDIT_PAGE))]}


async def audit_export(call: Call) -> Response:
    """JSONL (default, and for an unknown format), JSON or CSV, as a download."""
    fmt = call.request.query_params.get("format", "jsonl").strip().lower()
    fmt = fmt if fmt in ("json", "csv") else "jsonl"
    limit = min(call.query_int("limit", AUDIT_PAGE), call.gateway.settings.audit_export_max)
    events = await _audit(call, limit)
    if fmt == "json":
        body, media = json.dumps({"events": [audit_json(e) for e in events]}), "application/json"
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in events:
            writer.writerow([ms(e.at), e.actor, e.request_id, e.action, e.target, e.status, e.payload_hash, e.detail])
        body, media = out.getvalue(), "text/csv"
    else:
        body = "".join(json.dumps(audit_json(e), separators=(",", ":")) + "\n" for e in events)
        media = "application/x-ndjson"
    name = f"admin-audit-{int(time.time())}.{fmt}"
    headers = {"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media, headers=headers)


async def metrics(call: Call) -> dict[str, Any] | Response:
    taken = await snapshot(call.admin, call.gateway.stats)
    if call.request.query_params.get("format", "").strip().lower() in PROMETHEUS_FORMATS:
        return Response(prometheus_text(taken), headers={"Content-Type": PROMETHEUS_TYPE})
    return metrics_json(taken)


async def prometheus(call: Call) -> Response:
    return Response(prometheus_text(await snapshot(call.admin, call.gateway.stats)),
                    headers={"Content-Type": PROMETHEUS_TYPE})  # fmt: skip


async def events(call: Call) -> Response:
    first = last_event_id(call.request.headers.get("last-event-id"), call.request.query_params.get("lastEventId"))
    return StreamingResponse(call.gateway.feed.stream(first), media_type="text/event-stream", headers=SSE_HEADERS)


def _route(path: str, handler: Any, methods: list[str]) -> Route:
    return Route(path, endpoint(path, handler), methods=methods)


def gateway_routes() -> list[Route]:
    """Every route of go-worker's gateway under its prefix; the fixed paths come before ``{name}``."""
    get, post, delete = ["GET"], ["POST"], ["DELETE"]
    return [
        _route("/health", health, get),
        _route("/overview", overview, get),
        _route("/queues", list_queues, get),
        _route("/queues/{name:path}", queue, ["GET", "POST", "DELETE"]),
        _route("/schedules", list_schedules, get),
        _route("/schedules", create_schedule, post),
        _route("/schedules/pause", pause_schedules, post),
        _route("/schedules/events", schedule_events, get),
        _route("/schedules/factories", schedule_factories, get),
        _route("/schedules/{name}", delete_schedule, delete),
        _route("/schedules/{name}/pause", pause_schedule, post),
        _route("/schedules/{name}/run", run_schedule, post),
        _route("/jobs", job_read, get),
        _route("/jobs", job_action("job.upsert"), post),
        _route("/jobs/events", job_read, get),
        _route("/jobs/{name}", job_read, get),
        _route("/jobs/{name}", job_action("job.delete"), delete),
        _route("/jobs/{name}/run", job_action("job.run"), post),
        _route("/jobs/{name}/artifact/meta", job_read, get),
        _route("/jobs/{name}/artifact", job_read, get),
        _route("/dlq", list_dlq, get),
        _route("/dlq/replay", replay_dlq, post),
        _route("/dlq/replay/ids", replay_dlq_ids, post),
        _route("/dlq/{task_id}", dlq_entry, get),
        _route("/pause", pause, post),
        _route("/resume", resume, post),
        _route("/audit", audit, get),
        _route("/audit/export", audit_export, get),
        _route("/metrics", metrics, get),
        _route("/metrics/prometheus", prometheus, get),
        _route("/events", events, get),
    ]
