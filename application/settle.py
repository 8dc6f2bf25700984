"""The settle step: what an attempt's outcome means (finish or retry), as pure functions."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from pyworker.application.attempt import Interrupt
from pyworker.domain import Task, TaskCancelledError, TaskStatus, TaskTimeoutError


class AttemptOutcome(NamedTuple):
    """How one attempt ended: the function's result or error, and the interrupt we sent."""

    result: Any
    error: BaseException | None
    interrupt: Interrupt | None


class Finish(NamedTuple):
    """Settle the task for good with this status, result and public error."""

    status: TaskStatus
    result: Any
    error: BaseException | None


class Retry(NamedTuple):
    """Run the task again: ``attempt`` is the attempt that failed (it sizes the backoff)."""

    attempt: int


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


def settle(task: Task, outcome: AttemptOutcome, *, timeout: float, retry_allowed: bool) -> Finish | Retry:
    """Finish or retry, for both dispatchers (local and durable).

    A success completes; a cancellation finishes Cancelled (never retried); any other
    failure is retried while ``task.attempts <= task.retries`` and ``retry_allowed``
    (the manager is not stopping), else it finishes with its status and public error.

    Args:
        task: the task after its attempt (``attempts`` counts it; durable tasks count
            deliveries on every node).
        outcome: the attempt's outcome.
        timeout: the attempt's timeout, for the TaskTimeoutError message.
        retry_allowed: False while stopping, or when the task left RUNNING meanwhile.
    """
    error = outcome.error
    if error is None:
        return Finish(TaskStatus.COMPLETED, outcome.result, None)
    status = classify(error, outcome.interrupt)
    public = public_error(task, error, outcome.interrupt, timeout)
    if status is TaskStatus.CANCELLED:
        return Finish(status, outcome.result, public)
    if retry_allowed and task.attempts <= task.retries:
        return Retry(task.attempts)
    return Finish(status, None, public)
