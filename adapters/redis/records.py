"""Conversions between durable domain values and the Redis task hash / script replies."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pyworker.domain.durable import (
    MAX_DURABLE_WEIGHT,
    DurableLease,
    DurableState,
    DurableTask,
    DurableTaskRecord,
    check_enqueueable,
    durable_weight,
    ready_at_ms,
    stored_lease,
    stored_task,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.scheduling import DEFAULT_QUEUE, normalize_queue

_new = object.__new__
# uuid.UUID is immutable: its __init__ sets its two slots with object.__setattr__; these are those slots.
_uuid_int = uuid.UUID.__dict__["int"].__set__
_uuid_is_safe = uuid.UUID.__dict__["is_safe"].__set__
_from_bytes = int.from_bytes

_LENGTH = struct.Struct(">I").pack  # the enqueue script's struct.unpack reads 'I4c0'
_WEIGHT_PART = struct.Struct(">I").pack
_EMPTY, _ID_TEXT, _ID_BYTES, _WEIGHT = _LENGTH(0), _LENGTH(36), _LENGTH(16), _LENGTH(4)  # str(uuid) is 36 long

#: Values per lease in the dequeue script's reply.
LEASE_WIDTH = 14
_STATES = {state.value: state for state in DurableState}
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def encode_task(task: DurableTask, default_queue: str, now_ms: int) -> tuple[uuid.UUID, bytes, int]:
    """The task's id, its record for the enqueue script and its ready-at ms.

    The record is 15 values, each a 4-byte big-endian length and its bytes, in
    the order the enqueue script reads them; any byte may appear in a value. A value
    that holds its default is sent empty and left out of the task hash
    (docs/durable.md#redis-layout). The domain's rules decide what is stored (as
    ``domain.durable.storable_task``, field by field: this is the enqueue hot path).

    Raises:
        InvalidTaskError / DurablePayloadError: the task lacks an id, handler or payload.
    """
    task_id = check_enqueueable(task)
    payload = task.payload
    assert payload is not None  # checked above
    weight = durable_weight(task.weight)
    ready_at = ready_at_ms(task, now_ms)
    retry_delay_ms = to_ms(task.retry_delay)
    pack = _LENGTH
    handler = task.handler.encode()
    priority = b"%d" % task.priority
    queue = normalize_queue(task.queue, default_queue).encode()
    ready = b"%d" % ready_at
    # Straight-line, with the fixed and empty length prefixes made once: the enqueue hot path.
    record = b"".join((
        _ID_TEXT, str(task_id).encode(), _ID_BYTES, task_id.bytes,
        pack(len(handler)), handler, pack(len(payload)), payload, pack(len(priority)), priority,
        pack(len(queue)), queue,
        _EMPTY if weight == 1 else _value(b"%d" % weight),
        _WEIGHT, _WEIGHT_PART(MAX_DURABLE_WEIGHT - weight),  # inverted so that a higher weight sorts first
        _value(b"%d" % task.retries) if task.retries else _EMPTY,
        _value(b"%d" % retry_delay_ms) if retry_delay_ms else _EMPTY,
        _EMPTY if task.run_at is None else _value(b"%d" % to_ms(task.run_at)),
        pack(len(ready)), ready,
        _value(json.dumps(dict(task.metadata), separators=(",", ":")).encode()) if task.metadata else _EMPTY,
        _value(task.idempotency_key.encode()) if task.idempotency_key else _EMPTY,
        _value(task.name.encode()) if task.name else _EMPTY,
    ))  # fmt: skip
    return task_id, record, ready_at


def _value(value: bytes) -> bytes:
    """One record value: its 4-byte length, then its bytes."""
    return _LENGTH(len(value)) + value


def uuid_from_bytes(raw: bytes) -> uuid.UUID:
    """``uuid.UUID(bytes=raw)`` without its general argument checks (about a third of the
    cost): the dequeue script returns the 16 bytes it stored from ``UUID.bytes``.
    """
    value: uuid.UUID = _new(uuid.UUID)
    _uuid_int(value, _from_bytes(raw, "big"))
    _uuid_is_safe(value, _SAFE_UNKNOWN)
    return value


def leases_from_reply(reply: Sequence[Any], expires_at_ms: int) -> list[DurableLease]:
    """Leases from the dequeue script's reply (its first two values: the next due time, the limit flags).

    A field the task hash leaves out comes back None: its default.
    """
    expires_at = expires_at_ms / 1000
    leases: list[DurableLease] = []
    append = leases.append
    for i in range(2, len(reply), LEASE_WIDTH):
        (id_bytes, token, attempts, handler, payload, priority, queue, weight, retries, retry_delay_ms,
         run_at_ms, metadata, idem, name) = reply[i : i + LEASE_WIDTH]  # fmt: skip
        max_retries = int(retries) if retries else 0
        task = stored_task(
            handler.decode(),
            payload,
            uuid_from_bytes(id_bytes),
            int(priority) if priority else 0,
            int(run_at_ms) / 1000 if run_at_ms else None,
            queue.decode(),
            int(weight) if weight else 1,
            max_retries,
            int(retry_delay_ms) / 1000 if retry_delay_ms else 0.0,
            json.loads(metadata) if metadata else {},
            idem.decode() if idem else "",
            name.decode() if name else "",
        )
        append(stored_lease(task, token.decode(), attempts, max_retries, expires_at))
    return leases


#: The task hash fields record_from_hash reads, the payload left out: what a listing
#: without payloads asks the list script for (HMGET: the payload is never read).
LISTED_FIELDS = (
    "handler", "queue", "state", "priority", "weight", "retries", "retry_delay_ms", "attempts", "ready_at_ms",
    "updated_at_ms", "lease_at_ms", "last_error", "failed_at_ms", "metadata", "idempotency_key",
    "cancel_requested", "cancelled_at_ms",
)  # fmt: skip


def record_from_hash(task_id: uuid.UUID, fields: Mapping[bytes, bytes]) -> DurableTaskRecord:
    """A read-side record from the task hash (HGETALL)."""

    def text(name: bytes) -> str:
        return fields.get(name, b"").decode()

    def number(name: bytes) -> int:
        value = fields.get(name)
        return int(value) if value else 0

    def instant(name: bytes) -> float | None:
        value = fields.get(name)
        return int(value) / 1000 if value else None

    metadata = fields.get(b"metadata")
    return DurableTaskRecord(
        id=task_id,
        handler=text(b"handler"),
        queue=text(b"queue") or DEFAULT_QUEUE,
        state=_STATES.get(text(b"state"), DurableState.UNKNOWN),
        priority=number(b"priority"),
        weight=number(b"weight") or 1,
        retries=number(b"retries"),
        retry_delay=number(b"retry_delay_ms") / 1000,
        attempts=number(b"attempts"),
        ready_at=instant(b"ready_at_ms"),
        updated_at=instant(b"updated_at_ms") or instant(b"ready_at_ms"),  # absent: unchanged since stored
        lease_expires_at=instant(b"lease_at_ms"),
        last_error=text(b"last_error"),
        failed_at=instant(b"failed_at_ms"),
        metadata=json.loads(metadata) if metadata else None,
        idempotency_key=text(b"idempotency_key"),
        payload=fields.get(b"payload", b""),
        cancel_requested=text(b"cancel_requested"),
        cancelled_at=instant(b"cancelled_at_ms"),
    )


def hash_fields(record: DurableTaskRecord, default_queue: str) -> list[bytes]:
    """The task hash of ``record`` as field, value pairs, defaults left out (the restore
    script adds seq and state).
    """

    def ms(seconds: float | None) -> bytes:
        return b"" if seconds is None else b"%d" % to_ms(seconds)

    queue = normalize_queue(record.queue, default_queue)
    weight = durable_weight(record.weight)
    pairs = {
        b"handler": record.handler.encode(),
        b"payload": record.payload,
        b"priority": b"%d" % record.priority if record.priority else b"",
        b"queue": b"" if queue == DEFAULT_QUEUE else queue.encode(),
        b"weight": b"" if weight == 1 else b"%d" % weight,
        b"retries": b"%d" % record.retries if record.retries else b"",
        b"retry_delay_ms": b"%d" % to_ms(record.retry_delay) if to_ms(record.retry_delay) else b"",
        b"ready_at_ms": ms(record.ready_at),
        b"updated_at_ms": ms(record.updated_at),
        b"lease_at_ms": ms(record.lease_expires_at),
        b"attempts": b"%d" % record.attempts if record.attempts else b"",
        b"last_error": record.last_error.encode(),
        b"failed_at_ms": ms(record.failed_at),
        b"metadata": json.dumps(dict(record.metadata), separators=(",", ":")).encode() if record.metadata else b"",
        b"idempotency_key": record.idempotency_key.encode(),
        b"cancel_requested": record.cancel_requested.encode(),
        b"cancelled_at_ms": ms(record.cancelled_at),
    }
    # The payload is kept even when empty: a task hash always has handler and payload.
    return [item for field, value in pairs.items() if value or field == b"payload" for item in (field, value)]


def record_from_row(row: Sequence[bytes]) -> DurableTaskRecord:
    """A record from one row of the list script: the id, then the hash's field/value pairs."""
    return record_from_hash(uuid.UUID(row[0].decode()), dict(zip(row[1::2], row[2::2], strict=True)))
