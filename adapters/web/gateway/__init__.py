"""The admin JSON gateway under /admin/v1: go-worker's routes over the AdminService (docs/admin.md, "JSON gateway")."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from pyworker.adapters.web.config import AdminWebConfig
from pyworker.adapters.web.gateway.core import BODY_LIMIT, Gateway, GatewaySettings
from pyworker.adapters.web.gateway.errors import ERROR_STATUS, GatewayError, envelope, request_id
from pyworker.adapters.web.gateway.routes import gateway_routes
from pyworker.application.admin import AdminService

PREFIX = "/admin/v1"
_LOCAL = {404: ("not_found", "No such admin route"), 405: ("method_not_allowed", "Method not allowed")}


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's own 404 and 405, in the envelope like every other error."""
    assert isinstance(exc, HTTPException)
    code, message = _LOCAL.get(exc.status_code, ("invalid_request", str(exc.detail)))
    return envelope(request_id(request.headers.get("x-request-id")), exc.status_code, code, message)


def gateway_mount(
    admin: AdminService, config: AdminWebConfig, closing: asyncio.Event, settings: GatewaySettings | None = None
) -> Mount:
    """The gateway as one Mount at /admin/v1, behind the page's sign-in (``config``); its SSE
    streams end when ``closing`` is set."""
    gateway = Gateway(admin, config, closing, settings if settings is not None else GatewaySettings())
    app = Starlette(routes=gateway_routes(), exception_handlers={HTTPException: _http_error})
    app.state.gateway = gateway
    app.state.admin_config = config  # the page's sign-in checks (security.py) read it here too
    return Mount(PREFIX, app=app)


__all__ = ["BODY_LIMIT", "ERROR_STATUS", "PREFIX", "Gateway", "GatewayError", "GatewaySettings", "gateway_mount"]
