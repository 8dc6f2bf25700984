"""The admin page's actions (POST, CSRF-checked, refused when read-only): DLQ replay and delete, pause, resume."""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyworker.adapters.web.render import flash, render
from pyworker.adapters.web.views import data_of
from pyworker.domain import InvalidTaskError

DLQ_ACTIONS = ("replay", "delete")


def _ids(form: FormData) -> list[str]:
    ids = [str(value) for value in form.getlist("id") if str(value).strip()]
    if not ids:
        raise InvalidTaskError(reason="select at least one task")
    return ids


def _action(form: FormData) -> str:
    action = str(form.get("action") or "")
    if action not in DLQ_ACTIONS:
        raise InvalidTaskError(reason=f"unknown DLQ action {action!r} (one of {', '.join(DLQ_ACTIONS)})")
    return action


async def dlq_confirm(request: Request, form: FormData) -> Response:
    """The confirmation step: what replay or delete would do to the selected tasks; nothing changes yet."""
    change = await data_of(request).preview(_action(form), _ids(form))
    return render(request, "confirm.html", {"change": change, "active": "dead"})


async def dlq_apply(request: Request, form: FormData) -> Response:
    action, ids = _action(form), _ids(form)
    data = data_of(request)
    if action == "replay":
        moved = await data.replay(ids)
        flash(request, f"Replayed {moved} task{'s' if moved != 1 else ''}: ready again in their queues.")
    else:
        moved = await data.delete(ids)
        flash(request, f"Deleted {moved} task{'s' if moved != 1 else ''}.")
    return RedirectResponse("/tasks/dead", status_code=303)


async def pause(request: Request, form: FormData) -> Response:
    queue = str(form.get("queue") or "").strip()
    await data_of(request).pause(queue or None)
    flash(request, f"Dequeue paused for {'queue ' + queue if queue else 'every queue'}.")
    return RedirectResponse("/", status_code=303)


async def resume(request: Request, form: FormData) -> Response:
    queue = str(form.get("queue") or "").strip()
    await data_of(request).resume(queue or None)
    flash(request, f"Dequeue resumed for {'queue ' + queue if queue else 'every queue'}.")
    return RedirectResponse("/", status_code=303)


async def schedule_pause(request: Request, form: FormData) -> Response:
    return await _schedule_switch(request, form, paused=True)


async def schedule_resume(request: Request, form: FormData) -> Response:
    return await _schedule_switch(request, form, paused=False)


async def _schedule_switch(request: Request, form: FormData, *, paused: bool) -> Response:
    name = str(form.get("name") or "").strip()
    data = data_of(request)
    await (data.pause_schedule(name or None) if paused else data.resume_schedule(name or None))
    what = f"schedule {name}" if name else "every schedule"
    flash(request, f"{'Paused' if paused else 'Resumed'} {what} on every node.")
    return RedirectResponse("/schedules" + (f"?name={urllib.parse.quote(name)}" if name else ""), status_code=303)
