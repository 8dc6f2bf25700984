"""What an attempt's outcome means: its status, and the error the caller sees."""

from __future__ import annotations

import asyncio

from pyworker.application.attempt import Interrupt
from pyworker.domain import Task, TaskCancelledError, TaskStatus, TaskTimeoutError


def classify(error: BaseException | None, reason: Interrupt | None) -> TaskStatus:
    """The status an attempt's outcome leads to (retries aside)."""
    if error is None:
        return TaskStatus.COMPLETED
    # The interrupt we sent decides first: a deadline arrives as CancelledError
    # inside a coroutine, or as TaskCancelledError from ctx.raise_if_cancelled().
    if reason is Interrupt.TIMEOUT:
        return TaskStatus.CONTEXT_DEADLINE_REACHED
    if reason is Interrupt.CANCEL or isinstance(error, asyncio.CancelledError | TaskCancelledError):
        return TaskStatus.CANCELLED
    if isinstance(error, TimeoutError):
        return TaskStatus.CONTEXT_DEADLINE_REACHED
    return TaskStatus.FAILED


def public_error(
    task: Task, error: BaseException | None, reason: Interrupt | None, timeout: float
) -> BaseException | None:
    """The error stored on the task and raised to callers: TaskCancelledError for a
    cancellation, TaskTimeoutError for a deadline the manager enforced, else the
    function's own error.
    """
    if error is None:
        return None
    status = classify(error, reason)
    if status is TaskStatus.CANCELLED:
        return error if isinstance(error, TaskCancelledError) else TaskCancelledError(task_id=task.id)
    if reason is Interrupt.TIMEOUT:
        return TaskTimeoutError(task_id=task.id, timeout=timeout)
    return error
