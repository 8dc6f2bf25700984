"""Sign-in, sessions, CSRF and the security headers of the admin page (docs/admin.md "Security")."""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyworker.adapters.web.config import AdminWebConfig
from pyworker.application.admin import RequestContext

Endpoint = Callable[[Request], Awaitable[Response]]
FormEndpoint = Callable[[Request, FormData], Awaitable[Response]]

SESSION_COOKIE = "pyworker_admin"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

#: No inline script or style, nothing from another origin, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def config_of(request: Request) -> AdminWebConfig:
    config: AdminWebConfig = request.app.state.admin_config
    return config


def matched_secret(config: AdminWebConfig, given: str) -> str:
    """Which secret ``given`` is ("password", "token", or "" for neither), compared in constant time."""
    candidate = given.encode()
    matched = ""
    for kind, secret in (("password", config.password), ("token", config.token)):
        # both compared whatever the first gave: the time says nothing about which
        if secret and hmac.compare_digest(candidate, secret.encode()) and not matched:
            matched = kind
    return matched


def secret_matches(config: AdminWebConfig, given: str) -> bool:
    """Whether ``given`` is the password or the token, compared in constant time."""
    return bool(matched_secret(config, given))


def bearer_ok(request: Request) -> bool:
    """A script's ``Authorization: Bearer <token>`` (the token only, never the password)."""
    config = config_of(request)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return bool(config.token) and scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), config.token.encode()
    )


def signed_in(request: Request) -> bool:
    return request.session.get("user") == "admin" or bearer_ok(request)


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use (the sign-in form has one too)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    """The form field (or header) equals the session's token; a bearer request needs none
    (a browser never adds that header by itself)."""
    if bearer_ok(request):
        return True
    expected = request.session.get(CSRF_FIELD)
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and bool(expected) and isinstance(given, str) and hmac.compare_digest(
        given.encode(), expected.encode()
    )


def sign_in(request: Request, secret: str = "password") -> None:
    """A fresh session for the signed-in user, with a new CSRF token; the audit log names the
    actor by the secret it signed in with (``web:password``, ``web:token``)."""
    request.session.clear()
    request.session["user"] = "admin"
    request.session["actor"] = f"web:{secret}"
    csrf_token(request)


#: A caller's ``X-Request-Id`` is kept when it is this short and printable; else one is made.
REQUEST_ID_MAX = 128


def request_context(request: Request, approval: str = "") -> RequestContext:
    """Who acts, for the audit log: the session's actor (``web:bearer`` for a script), the
    caller's ``X-Request-Id`` or a new one, and the approval token the form carried."""
    actor = "web:bearer" if bearer_ok(request) else str(request.session.get("actor") or "web:password")
    given = request.headers.get("x-request-id", "").strip()
    ok = 0 < len(given) <= REQUEST_ID_MAX and given.isprintable()
    return RequestContext(actor=actor, request_id=given if ok else uuid.uuid4().hex, approval=approval)


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else "/" (no open redirect after sign-in)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def page(endpoint: Endpoint) -> Endpoint:
    """A page for signed-in users: anyone else is sent to the sign-in page (a GET) or refused (401)."""

    async def guarded(request: Request) -> Response:
        if not signed_in(request):
            if request.method in ("GET", "HEAD"):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={urllib.parse.quote(target)}", status_code=303)
            return PlainTextResponse("sign in first", status_code=401)
        return await endpoint(request)

    return guarded


def action(endpoint: FormEndpoint, *, changes_state: bool = True) -> Endpoint:
    """A POST that changes something: signed in, a valid CSRF token, and (``changes_state``) not read-only."""

    async def guarded(request: Request) -> Response:
        if not signed_in(request):
            return PlainTextResponse("sign in first", status_code=401)
        if changes_state and config_of(request).read_only:
            return PlainTextResponse("this admin page is read-only", status_code=403)
        form = await request.form()
        if not csrf_ok(request, form):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return await endpoint(request, form)

    return guarded


def public_form(endpoint: FormEndpoint) -> Endpoint:
    """A POST anyone may send (the sign-in form), still with the CSRF token of its own form."""

    async def guarded(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return await endpoint(request, form)

    return guarded


class SecurityHeaders:
    """Adds the CSP and the other security headers to every response (pure ASGI: SSE streams pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
