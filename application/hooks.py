"""Lifecycle hooks, and the guard that keeps a failing hook from hurting a worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from pyworker.domain import Task, TaskStatus

logger = logging.getLogger("pyworker.hooks")


@attrs.frozen
class TaskHooks:
    """Optional callbacks; each runs synchronously where the event happens.

    - on_queued(task): once per successful registration (not for retries).
    - on_start(task): at the start of every attempt.
    - on_retry(task, delay_seconds, attempt): when a retry is scheduled.
    - on_finish(task, status, result, error): once, at the terminal status.

    An exception in a hook is logged and swallowed.
    """

    on_queued: Callable[[Task], Any] | None = None
    on_start: Callable[[Task], Any] | None = None
    on_retry: Callable[[Task, float, int], Any] | None = None
    on_finish: Callable[[Task, TaskStatus, Any, BaseException | None], Any] | None = None


def call_hook(name: str, hook: Callable[..., Any], *args: Any) -> None:
    """Run a hook; log and swallow whatever it raises."""
    try:
        hook(*args)
    except Exception:
        logger.exception("hook %s raised; processing continues", name)
