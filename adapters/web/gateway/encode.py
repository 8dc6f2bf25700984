"""The admin plane's values as go-worker's gateway JSON: camelCase keys, times in epoch ms, lists never null."""

from __future__ import annotations

from typing import Any

from pyworker.application.admin import Overview, ScheduleEntry, ScheduleEvent
from pyworker.domain import DurableTaskRecord
from pyworker.domain.admin import AuditEvent, QueueSummary
from pyworker.domain.duration import to_ms

#: A schedule whose next run is this far in the past is ``lagging`` (go-worker's).
LAGGING_AFTER = 120.0


def ms(at: float | None) -> int:
    return 0 if at is None else to_ms(at)


def short_duration(seconds: float) -> str:
    """go-worker's lease format, floored: ``850ms``, ``12s``, ``3m``, ``2h``, ``1d``."""
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


def overview_json(o: Overview) -> dict[str, Any]:
    return {
        "stats": {"activeWorkers": o.active_workers, "queuedTasks": o.queued_tasks, "queues": o.queues,
                  "avgLatencyMs": -1, "p95LatencyMs": -1},
        "coordination": {"globalRateLimit": "disabled", "leaderLock": "disabled", "lease": "n/a", "paused": o.paused},
        "actions": {"pause": o.pauses, "resume": o.resumes, "replay": o.replays},
    }  # fmt: skip


def queue_json(q: QueueSummary) -> dict[str, Any]:
    """go-worker's Queue, plus ``delayed`` (pyworker keeps delayed tasks apart from ready ones)."""
    return {"name": q.name, "ready": q.ready, "delayed": q.delayed, "processing": q.processing, "dead": q.dead,
            "weight": q.weight, "paused": q.paused}  # fmt: skip


def schedule_json(e: ScheduleEntry, now: float) -> dict[str, Any]:
    next_ms, last_ms = ms(e.next_run), ms(e.last_run)
    if e.paused or next_ms <= 0:
        status = "paused"
    elif e.next_run is not None and now - e.next_run > LAGGING_AFTER:
        status = "lagging"
    else:
        status = "healthy"
    if e.next_run is None or next_ms <= 0:
        next_text = "n/a"
    else:
        next_text = f"in {short_duration(e.next_run - now)}" if e.next_run > now else "overdue"
    last_text = "n/a" if e.last_run is None else f"{short_duration(now - e.last_run)} ago"
    return {"name": e.name, "schedule": e.spec, "nextRun": next_text, "lastRun": last_text, "nextRunMs": next_ms,
            "lastRunMs": last_ms, "status": status, "paused": e.paused, "durable": e.durable}  # fmt: skip


def schedule_event_json(e: ScheduleEvent) -> dict[str, Any]:
    """go-worker's ScheduleEvent; a fire's outcome is ``status``, the task's own run is not tracked here."""
    return {"taskId": "" if e.task_id is None else str(e.task_id), "name": e.name, "spec": e.spec,
            "durable": e.durable, "status": e.status, "queue": "", "startedAtMs": ms(e.at), "finishedAtMs": 0,
            "durationMs": 0, "result": "", "error": ""}  # fmt: skip


def _age_ms(record: DurableTaskRecord, now: float) -> int:
    since = record.failed_at if record.failed_at is not None else record.updated_at
    return 0 if since is None else max(to_ms(now) - to_ms(since), 0)


def dlq_entry_json(r: DurableTaskRecord, now: float) -> dict[str, Any]:
    return {"id": str(r.id), "queue": r.queue, "handler": r.handler, "attempts": r.attempts, "ageMs": _age_ms(r, now)}


def dlq_detail_json(r: DurableTaskRecord, now: float) -> dict[str, Any]:
    entry = dlq_entry_json(r, now)
    entry.update({"failedAtMs": ms(r.failed_at), "updatedAtMs": ms(r.updated_at), "lastError": r.last_error,
                  "payloadSize": len(r.payload)})  # fmt: skip
    if r.metadata:
        entry["metadata"] = dict(r.metadata)
    return entry


def audit_json(e: AuditEvent) -> dict[str, Any]:
    event: dict[str, Any] = {"atMs": ms(e.at), "actor": e.actor, "requestId": e.request_id, "action": e.action,
                             "target": e.target, "status": e.status, "payloadHash": e.payload_hash,
                             "detail": e.detail}  # fmt: skip
    if e.metadata:
        event["metadata"] = dict(e.metadata)
    return event
