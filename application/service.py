"""The Service protocol, middleware composition and the logger middleware (docs/task-manager.md#middleware)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from pyworker.application.hooks import TaskHooks
from pyworker.application.ports import Tracer
from pyworker.application.results import ResultStream
from pyworker.domain import (
    DropPolicy,
    DurableTask,
    Duration,
    MetricsSnapshot,
    Result,
    RetentionPolicy,
    Task,
    TaskStatus,
)


@runtime_checkable
class Service(Protocol):
    """Every public operation of a TaskManager; middleware implements it too."""

    async def register_task(self, task: Task) -> None: ...
    async def register_tasks(self, tasks: Iterable[Task]) -> None: ...
    def start_workers(self) -> None: ...
    def set_max_workers(self, count: int) -> None: ...
    async def wait(self, timeout: Duration | None = None) -> None: ...
    async def stop_graceful(self, timeout: Duration | None = None) -> None: ...
    async def stop_now(self) -> None: ...
    def cancel_all(self) -> None: ...
    async def cancel_task(self, task_id: uuid.UUID | str) -> None: ...
    def get_active_tasks(self) -> int: ...
    def get_results(self) -> ResultStream: ...
    def subscribe_results(self, buffer: int = 10) -> ResultStream: ...
    def set_results_drop_policy(self, policy: DropPolicy | int) -> None: ...
    def get_task(self, task_id: uuid.UUID | str) -> Task: ...
    async def get_result(self, task_id: uuid.UUID | str) -> Result: ...
    def get_tasks(self) -> list[Task]: ...
    async def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any: ...
    async def register_durable_task(self, task: DurableTask) -> uuid.UUID: ...
    async def register_durable_tasks(self, tasks: Iterable[DurableTask]) -> list[uuid.UUID]: ...
    def get_metrics(self) -> MetricsSnapshot: ...
    def set_meter_provider(self, provider: Any, name: str = "pyworker", version: str | None = None) -> None: ...
    def set_retention_policy(self, policy: RetentionPolicy) -> None: ...
    def set_hooks(self, hooks: TaskHooks | None) -> None: ...
    def set_tracer(self, tracer: Tracer | None) -> None: ...


Middleware = Callable[[Service], Service]


def register_middleware(service: Service, *middlewares: Middleware) -> Service:
    """Wrap ``service``: each middleware wraps the previous result, so the last
    listed is outermost and runs first (as go-worker does).
    """
    for middleware in middlewares:
        service = middleware(service)
    return service


class ServiceMiddleware:
    """Delegates every Service call to ``next``; subclasses override what they watch."""

    def __init__(self, next: Service) -> None:
        self.next = next

    async def register_task(self, task: Task) -> None:
        await self.next.register_task(task)

    async def register_tasks(self, tasks: Iterable[Task]) -> None:
        await self.next.register_tasks(tasks)

    def start_workers(self) -> None:
        self.next.start_workers()

    def set_max_workers(self, count: int) -> None:
        self.next.set_max_workers(count)

    async def wait(self, timeout: Duration | None = None) -> None:
        await self.next.wait(timeout)

    async def stop_graceful(self, timeout: Duration | None = None) -> None:
        await self.next.stop_graceful(timeout)

    async def stop_now(self) -> None:
        await self.next.stop_now()

    def cancel_all(self) -> None:
        self.next.cancel_all()

    async def cancel_task(self, task_id: uuid.UUID | str) -> None:
        await self.next.cancel_task(task_id)

    def get_active_tasks(self) -> int:
        return self.next.get_active_tasks()

    def get_results(self) -> ResultStream:
        return self.next.get_results()

    def subscribe_results(self, buffer: int = 10) -> ResultStream:
        return self.next.subscribe_results(buffer)

    def set_results_drop_policy(self, policy: DropPolicy | int) -> None:
        self.next.set_results_drop_policy(policy)

    def get_task(self, task_id: uuid.UUID | str) -> Task:
        return self.next.get_task(task_id)

    async def get_result(self, task_id: uuid.UUID | str) -> Result:
        return await self.next.get_result(task_id)

    def get_tasks(self) -> list[Task]:
        return self.next.get_tasks()

    async def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any:
        return await self.next.execute_task(task_id, timeout)

    async def register_durable_task(self, task: DurableTask) -> uuid.UUID:
        return await self.next.register_durable_task(task)

    async def register_durable_tasks(self, tasks: Iterable[DurableTask]) -> list[uuid.UUID]:
        return await self.next.register_durable_tasks(tasks)

    def get_metrics(self) -> MetricsSnapshot:
        return self.next.get_metrics()

    def set_meter_provider(self, provider: Any, name: str = "pyworker", version: str | None = None) -> None:
        self.next.set_meter_provider(provider, name, version)

    def set_retention_policy(self, policy: RetentionPolicy) -> None:
        self.next.set_retention_policy(policy)

    def set_hooks(self, hooks: TaskHooks | None) -> None:
        self.next.set_hooks(hooks)

    def set_tracer(self, tracer: Tracer | None) -> None:
        self.next.set_tracer(tracer)


class LoggerMiddleware(ServiceMiddleware):
    """Logs registrations, cancellations, executions and stop calls with their timing.

    Unlike go-worker, a failed registration is logged as a failure (go-worker
    inspects the task's stored error and logs queue-full as success).
    """

    def __init__(self, next: Service, logger: logging.Logger | None = None) -> None:
        super().__init__(next)
        self.logger = logger or logging.getLogger("pyworker.middleware")

    def _took(self, name: str, started: float) -> None:
        self.logger.info("`%s` took: %.3fms", name, (time.perf_counter() - started) * 1000)

    async def register_task(self, task: Task) -> None:
        started = time.perf_counter()
        try:
            await self.next.register_task(task)
        except Exception as exc:
            self.logger.error("error while registering task ID %s - %s", task.id, exc)
            raise
        else:
            self.logger.info("registering task ID %s with priority: %s", task.id, task.priority)
        finally:
            self._took("RegisterTask", started)

    async def register_tasks(self, tasks: Iterable[Task]) -> None:
        started = time.perf_counter()
        batch = list(tasks)
        try:
            await self.next.register_tasks(batch)
        except ExceptionGroup as group:
            self.logger.error("%d of %d task(s) failed to register", len(group.exceptions), len(batch))
            raise
        finally:
            for task in batch:
                if task.status in (TaskStatus.UNKNOWN, TaskStatus.INVALID):  # never got queued
                    self.logger.error("error while registering task ID %s - %s", task.id, task.error)
                else:
                    self.logger.info("registering task ID %s with priority: %s", task.id, task.priority)
            self._took("RegisterTasks", started)

    async def register_durable_task(self, task: DurableTask) -> uuid.UUID:
        started = time.perf_counter()
        task_id = await self.next.register_durable_task(task)
        self.logger.info("registering durable task ID %s with handler: %s", task_id, task.handler)
        self._took("RegisterDurableTask", started)
        return task_id

    async def register_durable_tasks(self, tasks: Iterable[DurableTask]) -> list[uuid.UUID]:
        started = time.perf_counter()
        batch = list(tasks)
        ids = await self.next.register_durable_tasks(batch)
        for task_id, task in zip(ids, batch, strict=False):
            self.logger.info("registering durable task ID %s with handler: %s", task_id, task.handler)
        self._took("RegisterDurableTasks", started)
        return ids

    def start_workers(self) -> None:
        started = time.perf_counter()
        self.next.start_workers()
        self._took("StartWorkers", started)

    async def stop_graceful(self, timeout: Duration | None = None) -> None:
        started = time.perf_counter()
        try:
            await self.next.stop_graceful(timeout)
        finally:
            self._took("StopGraceful", started)

    async def stop_now(self) -> None:
        started = time.perf_counter()
        await self.next.stop_now()
        self._took("StopNow", started)

    def cancel_all(self) -> None:
        started = time.perf_counter()
        self.next.cancel_all()
        self._took("CancelAll", started)

    async def cancel_task(self, task_id: uuid.UUID | str) -> None:
        self.logger.info("cancelling task ID %s", task_id)
        started = time.perf_counter()
        try:
            await self.next.cancel_task(task_id)
        finally:
            self._took("CancelTask", started)

    async def execute_task(self, task_id: uuid.UUID | str, timeout: Duration | None = None) -> Any:
        self.logger.info("executing task ID %s", task_id)
        started = time.perf_counter()
        try:
            return await self.next.execute_task(task_id, timeout)
        except Exception as exc:
            self.logger.error("error while executing task ID %s - %s", task_id, exc)
            raise
        finally:
            self._took("ExecuteTask", started)


def logger_middleware(logger: logging.Logger | None = None) -> Middleware:
    """A Middleware factory for ``register_middleware(tm, logger_middleware())``."""

    def wrap(service: Service) -> Service:
        return LoggerMiddleware(service, logger)

    return wrap
