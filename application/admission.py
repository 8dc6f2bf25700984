"""Admitting in-memory tasks: validation, normalisation, the ledger entry and the ready queue."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyworker.application.config import ManagerConfig
from pyworker.application.hooks import call_hook
from pyworker.application.ledger import TaskLedger
from pyworker.application.ready_queue import ReadyQueue
from pyworker.application.telemetry import MetricCounters
from pyworker.domain import (
    InvalidTaskError,
    QueueFullError,
    Task,
    TaskAlreadyExistsError,
    TaskStatus,
    normalize_queue,
    to_epoch,
    to_seconds,
)

_UNKNOWN = TaskStatus.UNKNOWN


class LocalAdmission:
    """Registers the LocalDispatcher's tasks (defaults as docs/task-manager.md lists them).

    One loop serves a whole ``register_tasks`` batch, so a task costs no call into
    this part of its own (docs/adr/0019-in-memory-hot-path.md).
    """

    def __init__(self, config: ManagerConfig, ledger: TaskLedger, queue: ReadyQueue, counters: MetricCounters) -> None:
        self._config = config
        self._ledger = ledger
        self._queue = queue
        self._counters = counters
        self.on_queued: Any = None  # the on_queued hook (registration is not a lifecycle event)
        self._queue_names = {config.default_queue}  # names known to be normalised

    def register(self, task: Task) -> None:
        """Validate, normalise and queue one task.

        Raises:
            InvalidTaskError, TaskAlreadyExistsError, QueueFullError; nothing is
            registered in any error case.
        """
        errors = self.register_many((task,))
        if errors:
            raise errors[0]

    def register_many(self, tasks: Iterable[Task], on_first: Callable[[], None] | None = None) -> list[Exception]:
        """``register`` each task in order; returns the errors of the refused ones, in
        order (a non-Task is an InvalidTaskError). ``on_first`` runs once, right after
        the first task is registered.
        """
        errors: list[Exception] = []
        config = self._config
        ledger = self._ledger
        registry = ledger.tasks
        queue = self._queue
        counters = self._counters
        queue_names = self._queue_names
        for task in tasks:
            try:
                if type(task) is not Task and not isinstance(task, Task):
                    raise InvalidTaskError(reason="task is nil" if task is None else "not a Task")
                if task.status is not _UNKNOWN:
                    if task.id.int in registry:
                        raise TaskAlreadyExistsError(task_id=task.id)
                    raise InvalidTaskError(reason=f"task {task.id} was registered before; create a new Task")
                try:
                    task.validate()
                except InvalidTaskError as exc:
                    task.mark_invalid(exc)
                    raise
                if task.id.int in registry:
                    raise TaskAlreadyExistsError(task_id=task.id)
                if len(queue.waiting) >= queue.max_tasks:  # not queue.has_capacity
                    raise QueueFullError(max_tasks=config.max_tasks)
                # From here on nothing can fail: the task is registered (normalised as it goes in).
                if type(task.retry_delay) is not float or (task.run_at is not None and type(task.run_at) is not float):
                    # Fields reassigned after construction skip Task.__init__'s conversion.
                    task.retry_delay = to_seconds(task.retry_delay)
                    task.run_at = to_epoch(task.run_at)
                retries = task.retries
                if retries > config.max_retries or retries < 0:
                    task.retries = 0 if retries < 0 else config.max_retries
                if task.retry_delay <= 0:
                    task.retry_delay = config.retry_delay
                name = task.queue
                if not name:
                    task.queue = config.default_queue
                elif name not in queue_names:
                    task.queue = normalize_queue(name, config.default_queue)
                    queue_names.add(task.queue)
                if task.weight <= 0:
                    task.weight = 1
                task.mark_queued()
                ledger.add(task)
                queue.push(task)
                counters.scheduled += 1
                if self.on_queued is not None:
                    call_hook("on_queued", self.on_queued, task)
                if on_first is not None:
                    on_first()
                    on_first = None
            except Exception as exc:  # each error is reported, none stops the batch
                errors.append(exc)
        return errors
