"""Where StreamResults reads results: a port, and the adapter over one manager."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from pyworker.application import Service
from pyworker.domain import Result, TaskNotFoundError


class ResultSubscription(Protocol):
    """An async iterator of results that the stream closes when it ends."""

    def __aiter__(self) -> AsyncIterator[Result]: ...

    def close(self) -> None: ...


class ResultsSource(Protocol):
    """What StreamResults needs: new results, and a task's result if it already finished.

    A cross-node source (results of tasks that ran on other nodes) plugs in here
    without touching the servicer.
    """

    def subscribe(self, buffer: int) -> ResultSubscription:
        """Results produced from now on."""
        ...

    def finished(self, task_id: uuid.UUID) -> Result | None:
        """The result of a task that is already terminal; None if unknown or unfinished."""
        ...


class ManagerResultsSource:
    """Results of the tasks of one manager (this node)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def subscribe(self, buffer: int) -> ResultSubscription:
        return self._service.subscribe_results(buffer)

    def finished(self, task_id: uuid.UUID) -> Result | None:
        try:
            task = self._service.get_task(task_id)
        except TaskNotFoundError:
            return None
        if not task.status.is_terminal:
            return None
        return Result(task=task, result=task.result, error=task.error)
