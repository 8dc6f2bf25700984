"""What `workerctl durable` prints: records as go-worker's JSON lines, counts as key=value lines."""

from __future__ import annotations

import datetime
import json
from typing import Any

from pyworker.domain import DurableStats, DurableTaskRecord, QueueStats


def rfc3339(instant: float | None) -> str | None:
    """An instant as RFC 3339 UTC with second precision (go-worker's format), None when unset."""
    if not instant:
        return None
    moment = datetime.datetime.fromtimestamp(int(instant), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_json(record: DurableTaskRecord, *, include_metadata: bool = False) -> dict[str, Any]:
    """go-worker's task line (no payload): id and status always, every other field only when set."""
    fields: dict[str, Any] = {
        "handler": record.handler,
        "queue": record.queue or "default",
        "priority": record.priority,
        "weight": record.weight,
        "retries": record.retries,
        "attempts": record.attempts,
        "ready_at": rfc3339(record.ready_at),
        "updated_at": rfc3339(record.updated_at),
        "last_error": record.last_error,
        "failed_at": rfc3339(record.failed_at),
        "idempotency_key": record.idempotency_key,
        "cancel_requested": record.cancel_requested,
        "cancelled_at": rfc3339(record.cancelled_at),
    }
    if include_metadata:
        fields["metadata"] = dict(record.metadata)
    line: dict[str, Any] = {"id": str(record.id), "status": record.state.value}
    line.update({name: value for name, value in fields.items() if value})
    return line


def json_line(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def queue_line(queue: QueueStats) -> str:
    paused = " paused=true" if queue.paused else ""
    return (
        f"queue={queue.queue} ready={queue.ready} delayed={queue.delayed} processing={queue.processing}{paused}"
    )


def totals_line(stats: DurableStats, queues: tuple[QueueStats, ...] | None = None) -> str:
    shown = stats.queues if queues is None else queues
    ready = sum(q.ready for q in shown)
    delayed = sum(q.delayed for q in shown)
    processing = sum(q.processing for q in shown)
    return f"ready={ready} delayed={delayed} processing={processing} dead={stats.dead}"


def stats_json(stats: DurableStats) -> dict[str, Any]:
    """``stats --json``: real per-queue objects (go-worker printed ``{}`` for each)."""
    return {
        "queues": [
            {"queue": q.queue, "ready": q.ready, "delayed": q.delayed, "processing": q.processing, "paused": q.paused}
            for q in stats.queues
        ],
        "total_ready": stats.total_ready,
        "total_delayed": stats.total_delayed,
        "total_processing": stats.total_processing,
        "dead": stats.dead,
        "paused": stats.paused,
    }
