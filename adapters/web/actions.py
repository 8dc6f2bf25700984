"""The admin page's actions (POST, CSRF-checked, refused when read-only): DLQ replay and delete,
pause and resume, queue weights, schedule pause and run-now. Each is audited (docs/admin.md)."""

from __future__ import annotations

import urllib.parse

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pyworker.adapters.web.render import flash, render
from pyworker.adapters.web.security import local_path, request_context
from pyworker.adapters.web.views import data_of
from pyworker.domain import InvalidTaskError
from pyworker.domain.admin import AdminInvalidArgumentError

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


def _field(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _back(form: FormData, default: str) -> RedirectResponse:
    """Back to the page the form came from (``next``, a path on this site only)."""
    return RedirectResponse(local_path(_field(form, "next") or default), status_code=303)


def _plural(count: int, word: str = "task") -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


async def dlq_confirm(request: Request, form: FormData) -> Response:
    """The confirmation step: what replay or delete would do to the selected tasks; nothing changes yet."""
    change = await data_of(request).preview(_action(form), _ids(form))
    return render(request, "confirm.html", {"change": change, "active": "dead", "approval": _approval(request)})


async def dlq_confirm_oldest(request: Request, form: FormData) -> Response:
    """The confirmation step of "replay the oldest N": the N tasks, oldest first; nothing changes yet."""
    text = _field(form, "count")
    if not text.isdigit() or int(text) < 1:
        raise AdminInvalidArgumentError(reason=f"how many tasks to replay: a whole number from 1, got {text!r}")
    change = await data_of(request).oldest_dead(int(text))
    return render(request, "confirm.html", {"change": change, "active": "dead", "approval": _approval(request)})


def _approval(request: Request) -> bool:
    return data_of(request).requires_approval


async def dlq_apply(request: Request, form: FormData) -> Response:
    """Replay or delete exactly the tasks the confirmation listed (those still dead)."""
    action, ids = _action(form), _ids(form)
    data, ctx = data_of(request), request_context(request, _field(form, "approval"))
    if action == "replay":
        moved = await data.replay(ctx, ids)
        flash(request, f"Replayed {_plural(moved)}: ready again in their queues.")
    else:
        moved = await data.delete(ctx, ids)
        flash(request, f"Deleted {_plural(moved)}.")
    return RedirectResponse("/tasks/dead", status_code=303)


async def pause(request: Request, form: FormData) -> Response:
    return await _switch(request, form, paused=True)


async def resume(request: Request, form: FormData) -> Response:
    return await _switch(request, form, paused=False)


async def _switch(request: Request, form: FormData, *, paused: bool) -> Response:
    queue = _field(form, "queue")
    await data_of(request).pause(request_context(request), queue or None, paused)
    flash(request, f"Dequeue {'paused' if paused else 'resumed'} for {'queue ' + queue if queue else 'every queue'}.")
    return _back(form, "/")


async def queue_weight(request: Request, form: FormData) -> Response:
    """Store a queue's weight for every node's dequeue (``weight``), or forget it (``reset``)."""
    queue, text = _field(form, "queue"), _field(form, "weight")
    reset = _field(form, "reset") == "1"
    if not reset and not (text.isdigit() and int(text) > 0):
        raise AdminInvalidArgumentError(reason=f"a queue weight is a whole number from 1, got {text!r}")
    summary = await data_of(request).set_weight(request_context(request), queue, None if reset else int(text))
    what = "reset to the nodes' own" if reset else f"set to {summary.weight}"
    flash(request, f"Weight of queue {summary.name} {what}.")
    return RedirectResponse("/queues", status_code=303)


async def schedule_pause(request: Request, form: FormData) -> Response:
    return await _schedule_switch(request, form, paused=True)


async def schedule_resume(request: Request, form: FormData) -> Response:
    return await _schedule_switch(request, form, paused=False)


def _schedules_page(name: str) -> str:
    return "/schedules" + (f"?name={urllib.parse.quote(name)}" if name else "")


async def _schedule_switch(request: Request, form: FormData, *, paused: bool) -> Response:
    name = _field(form, "name")
    await data_of(request).pause_schedule(request_context(request), name or None, paused)
    what = f"schedule {name}" if name else "every schedule"
    flash(request, f"{'Paused' if paused else 'Resumed'} {what} on every node.")
    return _back(form, _schedules_page(name))


async def schedule_run(request: Request, form: FormData) -> Response:
    """Fire a registered schedule now (its ticks are unchanged)."""
    name = _field(form, "name")
    task_id = await data_of(request).run_schedule(request_context(request, _field(form, "approval")), name)
    made = f"task {task_id}" if task_id is not None else "no task (its factory made none)"
    flash(request, f"Ran schedule {name} now: {made}.")
    return RedirectResponse(_schedules_page(name), status_code=303)
