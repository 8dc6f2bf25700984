"""create_app: the admin page as one Starlette app: its route table, its middleware and its one error table."""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pyworker.adapters.web.actions import (
    dlq_apply,
    dlq_confirm,
    dlq_confirm_oldest,
    pause,
    queue_weight,
    resume,
    schedule_pause,
    schedule_resume,
    schedule_run,
)
from pyworker.adapters.web.config import AdminWebConfig
from pyworker.adapters.web.data import AdminPageData
from pyworker.adapters.web.events import events
from pyworker.adapters.web.gateway import GatewaySettings, gateway_mount
from pyworker.adapters.web.render import render, templates
from pyworker.adapters.web.security import SESSION_COOKIE, SecurityHeaders, action, page, public_form
from pyworker.adapters.web.views import (
    audit,
    login,
    login_page,
    logout,
    nodes,
    overview,
    queues,
    schedules,
    search,
    task,
    tasks,
)
from pyworker.application.admin import AdminService
from pyworker.domain import (
    BackendUnavailableError,
    ConfigurationError,
    InvalidTaskError,
    TaskNotFoundError,
    WorkerError,
)
from pyworker.domain.admin import (
    AdminApprovalError,
    AdminInvalidArgumentError,
    AdminLimitError,
    AdminNotFoundError,
    AdminPreconditionError,
    AdminUnsupportedError,
)
from pyworker.domain.schedule import InvalidScheduleNameError, InvalidScheduleSpecError, ScheduleNotFoundError

logger = logging.getLogger("pyworker.admin")

#: Most specific first: a WorkerError that matches no other row is a 500 (and is logged).
ERROR_STATUS: tuple[tuple[type[WorkerError], int], ...] = (
    (InvalidTaskError, 400),
    (InvalidScheduleNameError, 400),
    (InvalidScheduleSpecError, 400),
    (AdminInvalidArgumentError, 400),
    (ConfigurationError, 400),
    (AdminApprovalError, 403),
    (TaskNotFoundError, 404),
    (ScheduleNotFoundError, 404),
    (AdminNotFoundError, 404),
    (AdminPreconditionError, 409),
    (AdminLimitError, 429),
    (AdminUnsupportedError, 501),
    (BackendUnavailableError, 503),
    (WorkerError, 500),
)


def status_for(error: WorkerError) -> int:
    return next(status for error_type, status in ERROR_STATUS if isinstance(error, error_type))


async def worker_error(request: Request, exc: Exception) -> Response:
    """A WorkerError as a page with its (escaped) message; a 500 is logged with its traceback."""
    assert isinstance(exc, WorkerError)
    status = status_for(exc)
    if status >= 500 and not isinstance(exc, BackendUnavailableError):
        logger.error("admin page: %s", exc, exc_info=exc)
    if "session" not in request.scope:  # before the session middleware: no page to render
        return PlainTextResponse(str(exc), status_code=status)
    return render(request, "error.html", {"status": status, "message": str(exc)}, status)


def routes() -> list[Route | Mount]:
    """Every route and its guard: ``page`` needs a session, ``action`` a session, the CSRF token and write access."""
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", public_form(login), methods=["POST"]),
        Route("/logout", action(logout, changes_state=False), methods=["POST"]),
        Route("/", page(overview), methods=["GET"]),
        Route("/tasks/{state}", page(tasks), methods=["GET"]),
        Route("/task", page(search), methods=["GET"]),
        Route("/task/{task_id}", page(task), methods=["GET"]),
        Route("/nodes", page(nodes), methods=["GET"]),
        Route("/schedules", page(schedules), methods=["GET"]),
        Route("/schedules/pause", action(schedule_pause), methods=["POST"]),
        Route("/schedules/resume", action(schedule_resume), methods=["POST"]),
        Route("/schedules/run", action(schedule_run), methods=["POST"]),
        Route("/queues", page(queues), methods=["GET"]),
        Route("/queues/weight", action(queue_weight), methods=["POST"]),
        Route("/audit", page(audit), methods=["GET"]),
        Route("/dlq/confirm-oldest", action(dlq_confirm_oldest), methods=["POST"]),
        Route("/events", page(events), methods=["GET"]),
        Route("/dlq/confirm", action(dlq_confirm), methods=["POST"]),
        Route("/dlq/apply", action(dlq_apply), methods=["POST"]),
        Route("/pause", action(pause), methods=["POST"]),
        Route("/resume", action(resume), methods=["POST"]),
        Route("/healthz", lambda _request: PlainTextResponse("ok"), methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("pyworker.adapters.web", "static")]), name="static"),
    ]


def create_app(
    config: AdminWebConfig, data: AdminPageData, admin: AdminService | None = None,
    gateway: GatewaySettings | None = None,
) -> Starlette:  # fmt: skip
    """The admin page over ``data`` (opened and closed by the caller, which owns its connection),
    and with ``admin`` the JSON gateway at /admin/v1 (docs/admin.md, "JSON gateway");
    call ``close_streams(app)`` on the app's event loop before the server stops."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=config.session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=config.session_max_age,
            same_site="strict",
            https_only=config.secure_cookies,
        ),
    ]
    closing = asyncio.Event()  # set by close_streams(): the SSE streams end
    mounts = [] if admin is None else [gateway_mount(admin, config, closing, gateway)]
    app = Starlette(routes=[*mounts, *routes()], middleware=middleware, exception_handlers={WorkerError: worker_error})
    app.state.admin_config = config
    app.state.admin_data = data
    app.state.templates = templates()
    app.state.closing = closing
    return app


def close_streams(app: Starlette) -> None:
    """End every open SSE stream within a moment (the server is stopping: nothing waits for them)."""
    closing: asyncio.Event = app.state.closing
    closing.set()
