"""The snapshot JSONL line: go-worker's ``{"id","status","queue","score","fields"}`` plus ``payload_b64`` (lossless).

``fields`` holds the task hash as strings (go-worker's shape; ``payload`` only when it
is UTF-8 text). ``payload_b64`` is the payload bytes in standard base64: what an
import reads first, so binary payloads survive; a go-worker line without it is read
from ``fields.payload``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from typing import Any

from pyworker.domain import DurableState, DurableTaskRecord
from pyworker.domain.duration import to_ms

_STATES = {"ready": DurableState.READY, "delayed": DurableState.DELAYED, "processing": DurableState.PROCESSING,
           "dead": DurableState.DEAD}


class SnapshotError(ValueError):
    """A snapshot line that cannot be read (the message names the line)."""


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else str(to_ms(seconds))


def to_line(record: DurableTaskRecord) -> dict[str, Any]:
    """One snapshot entry for ``record``."""
    fields = {
        "handler": record.handler,
        "queue": record.queue,
        "priority": str(record.priority),
        "weight": str(record.weight),
        "retries": str(record.retries),
        "retry_delay_ms": str(to_ms(record.retry_delay)),
        "attempts": str(record.attempts),
        "ready_at_ms": _ms(record.ready_at),
        "updated_at_ms": _ms(record.updated_at),
        "lease_at_ms": _ms(record.lease_expires_at),
        "last_error": record.last_error,
        "failed_at_ms": _ms(record.failed_at),
        "metadata": json.dumps(dict(record.metadata), separators=(",", ":"), sort_keys=True) if record.metadata else "",
        "idempotency_key": record.idempotency_key,
        "cancel_requested": record.cancel_requested,
        "cancelled_at_ms": _ms(record.cancelled_at),
    }
    with contextlib.suppress(UnicodeDecodeError):
        fields["payload"] = record.payload.decode()
    line: dict[str, Any] = {"id": str(record.id), "status": record.state.value, "queue": record.queue}
    score = record.lease_expires_at if record.state is DurableState.PROCESSING else record.ready_at
    if record.state is not DurableState.DEAD and score:
        line["score"] = to_ms(score)
    line["fields"] = {name: value for name, value in fields.items() if value not in ("", "0") or name == "priority"}
    line["payload_b64"] = base64.b64encode(record.payload).decode()
    return line


def _number(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if value in (None, ""):
        return 0
    try:
        return int(float(value))
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"field {name} is not a number: {value!r}") from exc


def _instant(fields: dict[str, Any], name: str) -> float | None:
    value = _number(fields, name)
    return value / 1000 if value else None


def from_line(text: str) -> DurableTaskRecord:
    """The record a snapshot line describes (ours or go-worker's). Raises SnapshotError."""
    try:
        entry = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"decode snapshot entry: {exc}") from exc
    if not isinstance(entry, dict):
        raise SnapshotError("decode snapshot entry: not a JSON object")
    if not entry.get("id"):
        raise SnapshotError("snapshot entry missing id")
    try:
        task_id = uuid.UUID(str(entry["id"]))
    except ValueError as exc:
        raise SnapshotError(f"snapshot entry id {entry['id']!r} is not a UUID") from exc
    fields = entry.get("fields") or {}
    if not isinstance(fields, dict):
        raise SnapshotError("snapshot entry fields must be an object")
    if entry.get("payload_b64") is not None:
        try:
            payload = base64.b64decode(str(entry["payload_b64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SnapshotError(f"snapshot entry payload_b64: {exc}") from exc
    else:
        payload = str(fields.get("payload", "")).encode()
    metadata = fields.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError as exc:
            raise SnapshotError(f"snapshot entry metadata: {exc}") from exc
    state = _STATES.get(str(entry.get("status", "")).lower(), DurableState.READY)
    score = _number(entry, "score")
    lease_at = _instant(fields, "lease_at_ms")
    if state is DurableState.PROCESSING and score > 0:
        lease_at = score / 1000
    return DurableTaskRecord(
        id=task_id,
        handler=str(fields.get("handler", "")),
        queue=str(entry.get("queue") or fields.get("queue") or "default"),
        state=state,
        priority=_number(fields, "priority"),
        weight=_number(fields, "weight") or 1,
        retries=_number(fields, "retries"),
        retry_delay=_number(fields, "retry_delay_ms") / 1000,
        attempts=_number(fields, "attempts"),
        ready_at=_instant(fields, "ready_at_ms"),
        updated_at=_instant(fields, "updated_at_ms"),
        lease_expires_at=lease_at,
        last_error=str(fields.get("last_error", "")),
        failed_at=_instant(fields, "failed_at_ms"),
        metadata={str(k): str(v) for k, v in dict(metadata).items()},
        idempotency_key=str(fields.get("idempotency_key", "")),
        payload=payload,
        cancel_requested=str(fields.get("cancel_requested", "")),
        cancelled_at=_instant(fields, "cancelled_at_ms"),
    )
