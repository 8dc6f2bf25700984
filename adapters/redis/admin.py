"""The admin ports on Redis: queue weights every node's dequeue reads, and the bounded audit log."""

from __future__ import annotations

import datetime
import importlib.resources
import json
import re
from typing import Any

from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.application.admin import DEFAULT_AUDIT_LIMIT
from pyworker.domain.admin import AuditEvent

#: Audit events kept by default (an LTRIM after every record).
DEFAULT_AUDIT_CAPACITY = 10_000
#: Audit entries read per LRANGE while filtering.
AUDIT_READ_CHUNK = 500


def _script(name: str) -> str:
    return (importlib.resources.files("pyworker.adapters.redis") / "lua" / f"{name}.lua").read_text()


class RedisQueueWeights:
    """QueueWeightStore on the ``P:weights`` hash; lua/dequeue.lua lets these override each node's weights."""

    def __init__(self, store: RedisDurableStore) -> None:
        self.store = store
        self._script = store.client.register_script(_script("weight"))

    async def weights(self) -> dict[str, int]:
        raw: Any = await self.store.guard(self.store.client.hgetall(self.store.keys.weights))
        return {key.decode(): int(value) for key, value in raw.items()}

    async def set_weight(self, queue: str, weight: int) -> None:
        keys = self.store.keys
        await self.store.run(self._script, [keys.weights, keys.queues], [queue, str(max(int(weight), 1))])

    async def reset_weight(self, queue: str) -> bool:
        keys = self.store.keys
        return int(await self.store.run(self._script, [keys.weights, keys.queues], [queue, ""])) == 1


def rfc3339(at: float) -> str:
    """Epoch seconds as go-worker writes an audit time (RFC 3339, UTC, fractional seconds)."""
    text = datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_rfc3339(text: str) -> float:
    """An RFC 3339 time with any offset and up to nanoseconds (Go's), as epoch seconds."""
    return datetime.datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00"))).timestamp()


def audit_json(event: AuditEvent) -> str:
    """go-worker's audit JSON: ``at`` in RFC 3339, ``metadata`` left out when empty."""
    doc: dict[str, Any] = {
        "at": rfc3339(event.at), "actor": event.actor, "request_id": event.request_id, "action": event.action,
        "target": event.target, "status": event.status, "payload_hash": event.payload_hash, "detail": event.detail,
    }  # fmt: skip
    if event.metadata:
        doc["metadata"] = dict(event.metadata)
    return json.dumps(doc, separators=(",", ":"))


def audit_event(raw: bytes) -> AuditEvent | None:
    """An event from its JSON; None for an entry that is not one (skipped by readers)."""
    try:
        doc = json.loads(raw)
        return AuditEvent(
            at=parse_rfc3339(doc["at"]), actor=str(doc.get("actor", "")), request_id=str(doc.get("request_id", "")),
            action=str(doc.get("action", "")), target=str(doc.get("target", "")), status=str(doc.get("status", "")),
            payload_hash=str(doc.get("payload_hash", "")), detail=str(doc.get("detail", "")),
            metadata={str(k): str(v) for k, v in (doc.get("metadata") or {}).items()},
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class RedisAuditLog:
    """AuditLog on the ``P:admin:audit_events`` list (go-worker's key and JSON): LPUSH and LTRIM
    to ``capacity`` in one script; reads page the list newest first and stop at ``limit``
    matches or at the first event older than ``retention`` seconds."""

    def __init__(
        self, store: RedisDurableStore, capacity: int = DEFAULT_AUDIT_CAPACITY, retention: float | None = None
    ) -> None:
        self.store = store
        self.capacity = max(int(capacity), 1)
        self.retention = retention if retention and retention > 0 else None
        self._script = store.client.register_script(_script("audit"))

    async def record(self, event: AuditEvent) -> None:
        await self.store.run(self._script, [self.store.keys.audit_events], [audit_json(event), self.capacity])

    async def events(self, *, action: str = "", target: str = "", limit: int = DEFAULT_AUDIT_LIMIT) -> list[AuditEvent]:
        cutoff = float("-inf") if self.retention is None else self.store.clock.now() - self.retention
        found: list[AuditEvent] = []
        if limit < 1:
            return found
        key = self.store.keys.audit_events
        for start in range(0, self.capacity, AUDIT_READ_CHUNK):
            stop = min(start + AUDIT_READ_CHUNK, self.capacity) - 1
            chunk: Any = await self.store.guard(self.store.client.lrange(key, start, stop))
            for raw in chunk:
                event = audit_event(raw)
                if event is None:
                    continue
                if event.at < cutoff:
                    return found  # newest first: every later entry is older still
                if action in ("", event.action) and target in ("", event.target):
                    found.append(event)
                    if len(found) >= limit:
                        return found
            if len(chunk) < stop - start + 1:
                break
        return found
