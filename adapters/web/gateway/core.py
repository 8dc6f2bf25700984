"""The gateway's request handling: who asks (auth, CSRF, read-only, actor, request id), the body, one error path."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pyworker.adapters.web.config import AdminWebConfig
from pyworker.adapters.web.gateway.errors import GatewayError, actor_name, error_response, request_id
from pyworker.adapters.web.gateway.metrics import HttpStats
from pyworker.adapters.web.gateway.sse import EventFeed
from pyworker.adapters.web.security import bearer_ok, csrf_ok
from pyworker.application.admin import AdminService, RequestContext
from pyworker.domain import ConfigurationError
from pyworker.domain.admin import AdminApprovalError

#: go-worker's request body cap.
BODY_LIMIT = 1 << 20
#: Refusals of a signed-in caller's change that the audit log records (as the gRPC servicer
#: records its auth refusals). A caller that is not signed in writes nothing: it must not be
#: able to fill, and so empty, the bounded log.
AUDITED_REFUSALS = frozenset({"read_only", "csrf_required"})
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigurationError(reason=f"admin gateway {attribute.name} must be positive, got {value!r}")


@attrs.frozen
class GatewaySettings:
    """The JSON gateway's own settings (docs/admin.md, "JSON gateway").

    Attributes:
        events_interval: seconds between two SSE batches (go-worker's 10 s).
        ring_size: SSE events kept for Last-Event-ID replay (go-worker's 300).
        audit_export_max: the most events one ``/audit/export`` returns (go-worker's 5000).
    """

    events_interval: float = attrs.field(default=10.0, validator=_positive)
    ring_size: int = attrs.field(default=300, validator=_positive)
    audit_export_max: int = attrs.field(default=5000, validator=_positive)


class Gateway:
    """The state behind the routes: the AdminService, the page's sign-in settings, the SSE feed, the counters."""

    def __init__(
        self, admin: AdminService, config: AdminWebConfig, closing: asyncio.Event, settings: GatewaySettings
    ) -> None:
        self.admin = admin
        self.config = config
        self.settings = settings
        self.closing = closing
        self.stats = HttpStats()
        self.feed = EventFeed(admin, settings.events_interval, settings.ring_size, closing)

    def caller(self, request: Request) -> str:
        """Authenticate: the actor a signed-in page session or a bearer token acts as.

        Raises:
            GatewayError: 401 without either; 403 for a change on a read-only gateway, or a
                session's change without its CSRF token (a bearer request needs none).
        """
        bearer = bearer_ok(request)
        session = not bearer and request.session.get("user") == "admin"
        if not bearer and not session:
            raise GatewayError(401, "unauthenticated", "sign in first: Authorization: Bearer <token> or a page session")
        if request.method not in SAFE_METHODS:
            if self.config.read_only:
                raise GatewayError(403, "read_only", "this admin gateway is read-only")
            if session and not csrf_ok(request, FormData()):
                raise GatewayError(403, "csrf_required", "missing or wrong X-CSRF-Token header")
        named = actor_name(request.headers.get("x-admin-actor"))
        return named or (str(request.session.get("user")) if session else "")

    async def audit_refusal(self, request: Request, route: str, rid: str, refusal: GatewayError) -> None:
        """Record a signed-in caller's change that ``caller`` refused: action ``http.refused``,
        target the method and route, status error, detail the refusal (docs/admin.md, "Auth")."""
        session = request.session.get("user") == "admin"
        actor = actor_name(request.headers.get("x-admin-actor")) or ("admin" if session else "")
        ctx = RequestContext(actor=actor, request_id=rid)
        denied = AdminApprovalError(reason=f"{refusal.code}: {refusal.message}")
        await self.admin.refused(ctx, "http.refused", f"{request.method} {route}", {}, denied)


@attrs.frozen
class Call:
    """One request as a route sees it."""

    request: Request
    gateway: Gateway
    actor: str
    request_id: str

    @property
    def admin(self) -> AdminService:
        return self.gateway.admin

    def context(self, *, approval: bool = False) -> RequestContext:
        """The caller for the AdminService; ``approval`` forwards ``X-Admin-Approval`` (on go-worker's routes)."""
        token = self.request.headers.get("x-admin-approval", "") if approval else ""
        return RequestContext(actor=self.actor, request_id=self.request_id, approval=token)

    def path(self, name: str) -> str:
        return str(self.request.path_params.get(name, ""))

    def query_int(self, name: str, default: int) -> int:
        """go-worker's query integers: missing, unparsable or <= 0 take the default."""
        text = self.request.query_params.get(name, "").strip()
        try:
            value = int(text)
        except ValueError:
            return default
        return value if value > 0 else default

    async def body(self, *, code: str = "invalid_json", message: str = "failed to parse request body"
                   ) -> dict[str, Any]:  # fmt: skip
        """The JSON object sent (``{}`` for an empty body), read up to 1 MiB.

        Raises:
            GatewayError: 413 ``body_too_large`` past 1 MiB; 400 ``code`` for anything but a JSON object.
        """
        raw = bytearray()
        async for chunk in self.request.stream():
            raw += chunk
            if len(raw) > BODY_LIMIT:
                raise GatewayError(413, "body_too_large", "request body is larger than 1 MiB")
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GatewayError(400, code, message) from None
        if not isinstance(value, dict):
            raise GatewayError(400, code, message)
        return value


Handler = Callable[[Call], Awaitable[dict[str, Any] | Response]]


def endpoint(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route: authenticate, call ``handler``, answer JSON (or its Response); every failure is the envelope.
    The request id goes in the response header, the envelope and the audit event."""

    async def handle(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        rid = request_id(request.headers.get("x-request-id"))
        started = time.perf_counter()
        try:
            call = Call(request, gateway, gateway.caller(request), rid)
            result = await handler(call)
            response = result if isinstance(result, Response) else JSONResponse(result)
        except Exception as exc:  # every error answers the envelope (a non-WorkerError is logged there)
            if isinstance(exc, GatewayError) and exc.code in AUDITED_REFUSALS:
                await gateway.audit_refusal(request, route, rid, exc)
            response = error_response(rid, exc)
        response.headers["X-Request-Id"] = rid
        gateway.stats.observe(f"{request.method} {route}", response.status_code, (time.perf_counter() - started) * 1e3)
        return response

    return handle


def bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    """An optional boolean field. Raises GatewayError (400 invalid_json) for another type."""
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise GatewayError(400, "invalid_json", f"failed to parse request body: {name} must be a boolean")
    return value


def int_field(body: dict[str, Any], name: str, default: int) -> int:
    """An optional integer field. Raises GatewayError (400 invalid_json) for another type."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayError(400, "invalid_json", f"failed to parse request body: {name} must be an integer")
    return value


def str_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise GatewayError(400, "invalid_json", f"failed to parse request body: {name} must be a string")
    return value
