"""The admin page's templates: one autoescaping Jinja2 environment, its filters, and the render helper."""

from __future__ import annotations

import datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from pyworker.adapters.web.security import config_of, csrf_token, signed_in

STATES = ("ready", "delayed", "processing", "dead")


def when(epoch: float | None) -> str:
    """An epoch time as UTC to the second ("—" for none)."""
    if not epoch:
        return "—"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def templates() -> Jinja2Templates:
    """Every template autoescapes (whatever its name), and an undefined name is an error, not ""."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pyworker.adapters.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = when
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """``name`` with what every page shows: the CSRF token, the read-only flag, a one-time flash message."""
    shared = {
        "csrf": csrf_token(request),
        "read_only": config_of(request).read_only,
        "signed_in": signed_in(request),
        "flash": request.session.pop("flash", ""),
        "states": STATES,
        "active": "",
    }
    jinja: Jinja2Templates = request.app.state.templates
    return jinja.TemplateResponse(request, name, {**shared, **(context or {})}, status_code=status_code)


def flash(request: Request, message: str) -> None:
    """A message for the next page this session renders."""
    request.session["flash"] = message
