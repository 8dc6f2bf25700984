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
)
from pyworker.domain.duration import to_ms
from pyworker.domain.scheduling import normalize_queue

_LENGTH = struct.Struct(">I")  # the enqueue script's struct.unpack reads 'I4c0'

#: Values per lease in the dequeue script's reply.
LEASE_WIDTH = 14
_STATES = {state.value: state for state in DurableState}


def encode_task(task: DurableTask, default_queue: str, now_ms: int) -> tuple[uuid.UUID, bytes, int]:
    """The task's id, its record for the enqueue script and its ready-at ms.

    The record is 14 values, each a 4-byte big-endian length and its bytes, in
    the order the enqueue script reads them; any byte may appear in a value. The
    domain's rules decide what is stored (as ``domain.durable.storable_task``, field
    by field: this is the enqueue hot path).

    Raises:
        InvalidTaskError / DurablePayloadError: the task lacks an id, handler or payload.
    """
    task_id = check_enqueueable(task)
    assert task.payload is not None  # checked above
    weight = durable_weight(task.weight)
    ready_at = ready_at_ms(task, now_ms)
    values = (
        str(task_id).encode(),
        task.handler.encode(),
        task.payload,
        b"%d" % task.priority,
        normalize_queue(task.queue, default_queue).encode(),
        b"%d" % weight,
        b"%010d" % (MAX_DURABLE_WEIGHT - weight),  # inverted so that a higher weight sorts first
        b"%d" % task.retries,
        b"%d" % to_ms(task.retry_delay),
        b"" if task.run_at is None else b"%d" % to_ms(task.run_at),
        b"%d" % ready_at,
        json.dumps(dict(task.metadata), separators=(",", ":")).encode() if task.metadata else b"",
        task.idempotency_key.encode(),
        task.name.encode(),
    )
    return task_id, b"".join([_LENGTH.pack(len(v)) + v for v in values]), ready_at


def leases_from_reply(reply: Sequence[Any], expires_at_ms: int) -> list[DurableLease]:
    """Leases from the dequeue script's reply (its first value is the next due time)."""
    expires_at = expires_at_ms / 1000
    leases: list[DurableLease] = []
    for i in range(1, len(reply), LEASE_WIDTH):
        (task_id, token, attempts, handler, payload, priority, queue, weight, retries, retry_delay_ms,
         run_at_ms, metadata, idem, name) = reply[i : i + LEASE_WIDTH]  # fmt: skip
        task = DurableTask(
            handler=handler.decode(),
            payload=payload,
            id=uuid.UUID(task_id.decode()),
            priority=int(priority),
            run_at=int(run_at_ms) / 1000 if run_at_ms else None,
            queue=queue.decode(),
            weight=int(weight),
            retries=int(retries),
            retry_delay=int(retry_delay_ms) / 1000,
            metadata=json.loads(metadata) if metadata else None,
            idempotency_key=idem.decode(),
            name=name.decode(),
        )
        leases.append(DurableLease(task, token.decode(), int(attempts), task.retries, expires_at))
    return leases


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
        queue=text(b"queue"),
        state=_STATES.get(text(b"state"), DurableState.UNKNOWN),
        priority=number(b"priority"),
        weight=number(b"weight") or 1,
        retries=number(b"retries"),
        retry_delay=number(b"retry_delay_ms") / 1000,
        attempts=number(b"attempts"),
        ready_at=instant(b"ready_at_ms"),
        updated_at=instant(b"updated_at_ms"),
        lease_expires_at=instant(b"lease_at_ms"),
        last_error=text(b"last_error"),
        failed_at=instant(b"failed_at_ms"),
        metadata=json.loads(metadata) if metadata else None,
        idempotency_key=text(b"idempotency_key"),
        payload=fields.get(b"payload", b""),
    )


def hash_fields(record: DurableTaskRecord, default_queue: str) -> list[bytes]:
    """The task hash of ``record`` as field, value pairs (the restore script adds rank and state)."""

    def ms(seconds: float | None) -> bytes:
        return b"" if seconds is None else b"%d" % to_ms(seconds)

    pairs = {
        b"handler": record.handler.encode(),
        b"payload": record.payload,
        b"priority": b"%d" % record.priority,
        b"queue": normalize_queue(record.queue, default_queue).encode(),
        b"weight": b"%d" % durable_weight(record.weight),
        b"retries": b"%d" % record.retries,
        b"retry_delay_ms": ms(record.retry_delay),
        b"run_at_ms": b"",
        b"ready_at_ms": ms(record.ready_at),
        b"updated_at_ms": ms(record.updated_at),
        b"lease_at_ms": ms(record.lease_expires_at),
        b"attempts": b"%d" % record.attempts,
        b"last_error": record.last_error.encode(),
        b"failed_at_ms": ms(record.failed_at),
        b"metadata": json.dumps(dict(record.metadata), separators=(",", ":")).encode() if record.metadata else b"",
        b"idempotency_key": record.idempotency_key.encode(),
        b"name": b"",
    }
    return [item for pair in pairs.items() for item in pair]


def record_from_row(row: Sequence[bytes]) -> DurableTaskRecord:
    """A record from one row of the list script: the id, then the hash's field/value pairs."""
    return record_from_hash(uuid.UUID(row[0].decode()), dict(zip(row[1::2], row[2::2], strict=True)))
