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

    Over a durable manager both are cross-node: its subscriptions include results of
    tasks other nodes ran, and ``finished`` reads the outcome the store keeps
    (docs/cluster.md#results).
    """

    def subscribe(self, buffer: int) -> ResultSubscription:
        """Results produced from now on."""
        ...

    async def finished(self, task_id: uuid.UUID) -> Result | None:
        """The result of a task that is already terminal; None if unknown or unfinished."""
        ...


class ManagerResultsSource:
    """Results of one manager: its own tasks', and in durable mode every node's
    (``subscribe_results`` and ``get_result`` read the store's outcomes too).
    """

    def __init__(self, service: Service) -> None:
        self._service = service

    def subscribe(self, buffer: int) -> ResultSubscription:
        return self._service.subscribe_results(buffer)

    async def finished(self, task_id: uuid.UUID) -> Result | None:
        try:
            return await self._service.get_result(task_id)
        except TaskNotFoundError:
            return None
