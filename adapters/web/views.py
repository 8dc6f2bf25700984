"""The admin page's GET pages: sign-in, overview, task browser, task detail, nodes."""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyworker.adapters.web.data import AdminPageData
from pyworker.adapters.web.preview import preview
from pyworker.adapters.web.render import render
from pyworker.adapters.web.security import config_of, local_path, secret_matches, sign_in, signed_in
from pyworker.application.admin import parse_task_id
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
    if not secret_matches(config_of(request), str(form.get("password") or "")):
        return render(request, "login.html", {"next": target, "error": "Wrong password or token."}, 401)
    sign_in(request)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request, _form: FormData) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def overview(request: Request) -> Response:
    return render(request, "overview.html", {"overview": await data_of(request).overview(), "active": "overview"})


async def tasks(request: Request) -> Response:
    """One page of a state's tasks; ``cursor`` comes from the previous page's "Next" link."""
    state = listable_state(request.path_params["state"]).value
    queue = request.query_params.get("queue", "").strip()
    cursor = request.query_params.get("cursor") or None
    page = await data_of(request).page(state, queue, cursor, config_of(request).page_size)
    next_url = ""
    if page.next_cursor is not None:
        query = {"cursor": page.next_cursor, **({"queue": queue} if queue else {})}
        next_url = f"/tasks/{state}?{urllib.parse.urlencode(query)}"
    first_url = f"/tasks/{state}" + (f"?{urllib.parse.urlencode({'queue': queue})}" if queue else "")
    context = {
        "state": state, "queue": queue, "page": page, "next_url": next_url,
        "first_url": first_url if cursor else "", "active": state,
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
    """The schedules' pause state; ``?name=`` shows that schedule's latest fires."""
    name = request.query_params.get("name", "").strip()
    state = await data_of(request).schedules(name)
    return render(request, "schedules.html", {"schedules": state, "name": name, "active": "schedules"})
