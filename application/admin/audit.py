"""Who asks (RequestContext), the canonical payload hash, and recording each admin action in the AuditLog."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import attrs

from pyworker.application.admin.ports import AuditLog
from pyworker.application.ports import Clock
from pyworker.domain import BackendUnavailableError, InvalidTaskError, TaskNotFoundError, WorkerError
from pyworker.domain.admin import AUDIT_ERROR, AUDIT_OK, AdminError, AuditEvent
from pyworker.domain.schedule import ScheduleNotFoundError

T = TypeVar("T")
logger = logging.getLogger("pyworker.admin")

#: The actor of a request that names none (go-worker's).
UNKNOWN_ACTOR = "unknown"


def _strip(value: str) -> str:
    return str(value or "").strip()


@attrs.frozen
class RequestContext:
    """What a transport knows about the caller: gRPC metadata, HTTP headers or a page session fill it.

    Attributes:
        actor: who acts (``x-admin-actor``, or the authenticated identity); "" becomes ``unknown``.
        request_id: the caller's request id (``x-request-id``), or "".
        approval: the approval token the caller sent (``x-admin-approval``), or "".
    """

    actor: str = attrs.field(default="", converter=_strip)
    request_id: str = attrs.field(default="", converter=_strip)
    approval: str = attrs.field(default="", converter=_strip, repr=False)


def _go_json_escape(text: str) -> str:
    # encoding/json escapes these for HTML safety; the hash must match go-worker's bytes.
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def payload_hash(fields: Mapping[str, Any]) -> str:
    """Lower-case hex SHA-256 of the request as go-worker serialises it: JSON with the proto
    field names in declaration order (``fields``' order), zero values left out, compact, with
    encoding/json's HTML escapes. An empty request hashes ``{}``."""
    kept = {name: value for name, value in fields.items() if value not in ("", 0, False, None, [], ())}
    text = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_go_json_escape(text).encode()).hexdigest()


def error_code(exc: BaseException) -> str:
    """The kind of an admin failure, as every transport maps it (docs/grpc.md, "Status codes")."""
    if isinstance(exc, AdminError):
        return exc.code
    if isinstance(exc, InvalidTaskError | ValueError) and isinstance(exc, WorkerError):
        return "invalid_argument"
    if isinstance(exc, TaskNotFoundError | ScheduleNotFoundError):
        return "not_found"
    if isinstance(exc, BackendUnavailableError):
        return "unavailable"
    return "internal"


class AuditRecorder:
    """Records one AuditEvent per admin action, success or failure. Recording is best effort:
    a log that does not answer is logged here and never fails the action (as go-worker's)."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self.log = log
        self._clock = clock

    async def run(
        self, ctx: RequestContext, action: str, target: str, fields: Mapping[str, Any], call: Awaitable[T]
    ) -> T:
        """Await ``call`` and record its outcome; its error propagates after the record."""
        try:
            result = await call
        except Exception as exc:
            await self.refused(ctx, action, target, fields, exc)
            raise
        await self._record(ctx, action, target, fields, AUDIT_OK, AUDIT_OK, {})
        return result

    async def refused(
        self, ctx: RequestContext, action: str, target: str, fields: Mapping[str, Any], exc: BaseException
    ) -> None:
        """Record an action refused before it ran (by a transport's auth check, say)."""
        detail = str(exc) or type(exc).__name__
        await self._record(ctx, action, target, fields, AUDIT_ERROR, detail, {"code": error_code(exc)})

    async def _record(
        self, ctx: RequestContext, action: str, target: str, fields: Mapping[str, Any], status: str, detail: str,
        metadata: dict[str, str],
    ) -> None:  # fmt: skip
        event = AuditEvent(
            at=self._clock.now(), actor=ctx.actor or UNKNOWN_ACTOR, request_id=ctx.request_id, action=action,
            target=target, status=status, payload_hash=payload_hash(fields), detail=detail, metadata=metadata,
        )  # fmt: skip
        try:
            await self.log.record(event)
        except WorkerError as exc:
            logger.warning("audit event %s %s not recorded: %s", action, target, exc)
