"""Service and middleware (docs/task-manager.md#middleware): Protocol conformance, register_middleware order (last
listed outermost),
delegation of every operation, and the logger middleware's lines."""

from __future__ import annotations

import logging
import uuid

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import (
    LoggerMiddleware,
    Service,
    ServiceMiddleware,
    TaskHooks,
    TaskManager,
    logger_middleware,
    register_middleware,
)
from pyworker.domain import DropPolicy, QueueFullError, RetentionPolicy, Task, TaskNotFoundError, TaskStatus
from tests.support.waits import within
from tests.unit.application.support import BoomError, Gate, MakeManager, failing, ok


class Tagging(ServiceMiddleware):
    """Records its tag when register_task passes through it."""

    def __init__(self, next: Service, tag: str, trail: list[str]) -> None:
        super().__init__(next)
        self.tag = tag
        self.trail = trail

    async def register_task(self, task: Task) -> None:
        self.trail.append(f"{self.tag}:before")
        await self.next.register_task(task)
        self.trail.append(f"{self.tag}:after")


def test_task_manager_and_middlewares_implement_service() -> None:
    tm = TaskManager()
    assert isinstance(tm, Service)
    assert isinstance(ServiceMiddleware(tm), Service)
    assert isinstance(LoggerMiddleware(tm), Service)


async def test_last_listed_middleware_is_outermost(make_manager: MakeManager) -> None:
    tm = make_manager()
    trail: list[str] = []
    svc = register_middleware(
        tm,
        lambda s: Tagging(s, "first", trail),
        lambda s: Tagging(s, "second", trail),
    )
    assert isinstance(svc, Tagging)
    assert svc.tag == "second"
    await svc.register_task(Task(execute=ok))
    assert trail == ["second:before", "first:before", "first:after", "second:after"]


def test_no_middleware_returns_the_service_itself() -> None:
    tm = TaskManager()
    assert register_middleware(tm) is tm


async def test_middleware_delegates_every_operation(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retry_delay=1)
    svc: Service = ServiceMiddleware(ServiceMiddleware(tm))
    svc.start_workers()
    finished: list[uuid.UUID] = []
    svc.set_hooks(TaskHooks(on_finish=lambda task, *_: finished.append(task.id)))
    svc.set_results_drop_policy(DropPolicy.DROP_OLDEST)
    stream = svc.subscribe_results(1)
    compat = svc.get_results()
    first, second = Task(execute=ok), Task(execute=ok)
    await svc.register_task(first)
    await svc.register_tasks([second])
    await within(svc.wait())
    assert finished == [first.id, second.id]
    kept = stream.get_nowait()
    assert kept is not None
    assert kept.task is second  # DROP_OLDEST took effect
    assert stream.get_nowait() is None
    assert len(compat) == 2
    assert svc.get_task(first.id) is first
    assert (await svc.get_result(first.id)).task is first
    assert {t.id for t in svc.get_tasks()} == {first.id, second.id}
    assert svc.get_metrics().completed == 2
    third = Task(execute=ok)
    await svc.register_task(third)
    assert await within(svc.execute_task(third.id)) == "ok"
    svc.set_max_workers(0)
    fourth = Task(execute=ok)
    await svc.register_task(fourth)
    await svc.cancel_task(fourth.id)
    assert fourth.status is TaskStatus.CANCELLED
    fifth = Task(execute=ok)
    await svc.register_task(fifth)
    svc.cancel_all()
    assert fifth.status is TaskStatus.CANCELLED
    assert svc.get_active_tasks() == 0
    svc.set_retention_policy(RetentionPolicy(max_entries=1))
    assert len(svc.get_tasks()) == 1
    svc.set_tracer(None)
    svc.set_meter_provider(None)
    await within(svc.stop_graceful())
    await within(svc.stop_now())
    assert stream.closed


async def test_logger_middleware_logs_registration(make_manager: MakeManager, caplog: pytest.LogCaptureFixture) -> None:
    tm = make_manager()
    svc = register_middleware(tm, logger_middleware())
    task = Task(execute=ok, priority=4)
    with caplog.at_level(logging.INFO, logger="pyworker.middleware"):
        await svc.register_task(task)
    messages = [r.getMessage() for r in caplog.records]
    assert f"registering task ID {task.id} with priority: 4" in messages
    assert any(m.startswith("`RegisterTask` took: ") for m in messages)


async def test_logger_middleware_logs_failed_registration_as_error(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager(max_tasks=1)
    tm.set_max_workers(0)
    svc = LoggerMiddleware(tm)
    await svc.register_task(Task(execute=ok))
    refused = Task(execute=ok)
    with caplog.at_level(logging.INFO, logger="pyworker.middleware"), pytest.raises(QueueFullError):
        await svc.register_task(refused)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"error while registering task ID {refused.id} - queue is full (max 1)"]
    assert not any("with priority" in r.getMessage() for r in caplog.records)


async def test_logger_middleware_logs_register_tasks(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager()
    svc = LoggerMiddleware(tm)
    tasks = [Task(execute=ok, priority=1), Task(execute=ok, priority=2)]
    with caplog.at_level(logging.INFO, logger="pyworker.middleware"):
        await svc.register_tasks(tasks)
    messages = [r.getMessage() for r in caplog.records]
    for task in tasks:
        assert f"registering task ID {task.id} with priority: {task.priority}" in messages
    assert any(m.startswith("`RegisterTasks` took: ") for m in messages)


async def test_logger_middleware_logs_cancel_execute_and_stop(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager()
    tm.set_max_workers(0)
    svc = LoggerMiddleware(tm)
    cancelled = Task(execute=ok)
    executed = Task(execute=failing(1))
    await svc.register_task(cancelled)
    await svc.register_task(executed)
    with caplog.at_level(logging.INFO, logger="pyworker.middleware"):
        await svc.cancel_task(cancelled.id)
        with pytest.raises(BoomError):
            await within(svc.execute_task(executed.id))
        svc.cancel_all()
        await within(svc.stop_now())
    messages = [r.getMessage() for r in caplog.records]
    assert f"cancelling task ID {cancelled.id}" in messages
    assert f"executing task ID {executed.id}" in messages
    assert f"error while executing task ID {executed.id} - attempt 1" in messages
    for name in ("CancelTask", "ExecuteTask", "CancelAll", "StopNow"):
        assert any(m.startswith(f"`{name}` took: ") for m in messages), name


async def test_logger_middleware_logs_start_and_graceful_stop(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager()
    svc = LoggerMiddleware(tm)
    with caplog.at_level(logging.INFO, logger="pyworker.middleware"):
        svc.start_workers()
        await within(svc.stop_graceful())
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("`StartWorkers` took: ") for m in messages)
    assert any(m.startswith("`StopGraceful` took: ") for m in messages)


async def test_logger_middleware_is_silent_for_queries(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager()
    svc = LoggerMiddleware(tm)
    with caplog.at_level(logging.DEBUG, logger="pyworker.middleware"):
        svc.get_metrics()
        svc.get_tasks()
        svc.get_active_tasks()
        with pytest.raises(TaskNotFoundError):
            svc.get_task(uuid.uuid4())
    assert caplog.records == []


async def test_logger_middleware_uses_the_given_logger(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager()
    custom = logging.getLogger("tests.custom.middleware")
    svc = register_middleware(tm, logger_middleware(custom))
    gate = Gate()
    task = Task(execute=gate)
    with caplog.at_level(logging.INFO, logger="tests.custom.middleware"):
        await svc.register_task(task)
    assert {r.name for r in caplog.records} == {"tests.custom.middleware"}
    gate.release.set()
    await within(svc.wait())
