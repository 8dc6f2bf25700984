"""The admin page's GET pages: sign-in, overview, queues, task browser, task detail, nodes, schedules, audit."""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyworker.adapters.web.data import AdminPageData
from pyworker.adapters.web.preview import preview
from pyworker.adapters.web.render import render
from pyworker.adapters.web.security import config_of, local_path, matched_secret, sign_in, signed_in
from pyworker.application.admin import Sample, parse_task_id
from pyworker.domain import listable_state


def data_of(request: Request) -> AdminPageData:
    data: AdminPageData = request.app.state.admin_data
    return data


async def login_page(request: Request) -> Response:
    if signed_in(request):
        return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
    return render(request, "login.html", {"next": local_path(request.query_params.get("next")), "error": ""})


async def login(request: Request, form: FormData) -> Response:
    target = local_path(str(form.get("next") or "/"))
    secret = matched_secret(config_of(request), str(form.get("password") or ""))
    if not secret:
        return render(request, "login.html", {"next": target, "error": "Wrong password or token."}, 401)
    sign_in(request, secret)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request, _form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def overview(request: Request) -> Response:
    return render(request, "overview.html", {"overview": await data_of(request).overview(), "active": "overview"})


async def tasks(request: Request) -> Response:
    """One page of a state's tasks; ``cursor`` comes from the previous page's "Next" link,
    ``handler`` keeps the tasks whose handler contains it (searched a few store pages at a time)."""
    state = listable_state(request.path_params["state"]).value
    queue = request.query_params.get("queue", "").strip()
    handler = request.query_params.get("handler", "").strip()
    cursor = request.query_params.get("cursor") or None
    page = await data_of(request).page(state, queue, cursor, config_of(request).page_size, handler)
    filters = {**({"queue": queue} if queue else {}), **({"handler": handler} if handler else {})}
    next_url = ""
    if page.next_cursor is not None:
        next_url = f"/tasks/{state}?{urllib.parse.urlencode({'cursor': page.next_cursor, **filters})}"
    first_url = f"/tasks/{state}" + (f"?{urllib.parse.urlencode(filters)}" if filters else "")
    context = {
        "state": state, "queue": queue, "handler": handler, "page": page, "next_url": next_url,
        "first_url": first_url if cursor else "", "active": state,
        "replay_max": data_of(request).service.guardrails.replay_ids_max,
    }  # fmt: skip
    return render(request, "tasks.html", context)


async def search(request: Request) -> Response:
    """Search by task id: straight to its detail page (a bad id is a 400 page)."""
    task_id = parse_task_id(request.query_params.get("id", ""))
    return RedirectResponse(f"/task/{task_id}", status_code=303)


async def task(request: Request) -> Response:
    record = await data_of(request).task(request.path_params["task_id"])
    context = {"task": record, "preview": preview(record.payload), "active": record.state.value}
    return render(request, "task.html", context)


async def nodes(request: Request) -> Response:
    return render(request, "nodes.html", {"nodes": await data_of(request).nodes(), "active": "nodes"})


async def schedules(request: Request) -> Response:
    """The registered schedules, the pause state; ``?name=`` shows that schedule's latest fires."""
    name = request.query_params.get("name", "").strip()
    data = data_of(request)
    state = await data.schedules(name)
    context = {"schedules": state, "name": name, "active": "schedules", "approval": data.requires_approval}
    return render(request, "schedules.html", context)


async def queues(request: Request) -> Response:
    """Every queue: its depths, its stored weight and its pause flag."""
    return render(request, "queues.html", {"queues": await data_of(request).queues(), "active": "queues"})


#: Audit events the page shows when no limit is asked for, and the most it shows.
AUDIT_PAGE = 50
AUDIT_MAX = 1000


async def audit(request: Request) -> Response:
    """The audit log, newest first; ``action`` and ``target`` filter (exact), ``limit`` pages."""
    action = request.query_params.get("action", "").strip()
    target = request.query_params.get("target", "").strip()
    text = request.query_params.get("limit", "").strip()
    limit = min(int(text), AUDIT_MAX) if text.isdigit() and int(text) > 0 else AUDIT_PAGE
    events = await data_of(request).audit(action, target, limit)
    more = ""
    if len(events) >= limit and limit < AUDIT_MAX:
        query = {**({"action": action} if action else {}), **({"target": target} if target else {})}
        more = "/audit?" + urllib.parse.urlencode({**query, "limit": min(limit * 2, AUDIT_MAX)})
    context = {"events": events, "action": action, "target": target, "limit": limit, "more_url": more,
               "active": "audit"}  # fmt: skip
    return render(request, "audit.html", context)


def sample_json(sample: Sample) -> dict[str, float | int]:
    return {
        "at": sample.at, "ready": sample.ready, "delayed": sample.delayed, "processing": sample.processing,
        "dead": sample.dead, "completed": sample.completed, "failed": sample.failed,
    }  # fmt: skip
