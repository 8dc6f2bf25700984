"""BlockingTaskManager (docs/differences.md): the manager on a background event-loop thread, driven from plain
threads."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest

from pyworker.application import BlockingTaskManager, TaskManager
from pyworker.domain import NotAcceptingTasksError, Task, TaskContext, TaskNotFoundError, TaskStatus, WaitTimeoutError
from tests.support.waits import WAIT, join
from tests.unit.application.support import BoomError, failing


def _double(value: int) -> Callable[[TaskContext], int]:
    def run(ctx: TaskContext) -> int:
        return value * 2

    return run


def test_register_wait_and_read_back_from_a_plain_thread() -> None:
    with BlockingTaskManager(max_workers=2, tasks_per_second=0) as tm:
        tasks = [Task(execute=_double(i)) for i in range(5)]
        for task in tasks:
            tm.register_task(task)
        tm.wait(WAIT)
        assert [tm.get_task(t.id).result for t in tasks] == [0, 2, 4, 6, 8]
        assert {t.status for t in tm.get_tasks()} == {TaskStatus.COMPLETED}
        assert tm.get_metrics().completed == 5


def test_get_result_returns_a_finished_task_and_raises_for_others() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        task = Task(execute=_double(21))
        tm.register_task(task)
        tm.wait(WAIT)
        result = tm.get_result(task.id)
        assert (result.task, result.result, result.error) == (task, 42, None)
        with pytest.raises(TaskNotFoundError):
            tm.get_result(uuid.uuid4())


def test_async_functions_run_on_the_background_loop() -> None:
    async def hello(ctx: TaskContext) -> str:
        return "async hello"

    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        task = Task(execute=hello)
        tm.register_task(task)
        tm.wait(WAIT)
        assert task.result == "async hello"


def test_execute_task_returns_the_result_and_raises_the_error() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        tm.manager.set_max_workers(0)
        good, bad = Task(execute=_double(21)), Task(execute=failing(1))
        tm.register_tasks([good, bad])
        assert tm.execute_task(good.id) == 42
        with pytest.raises(BoomError):
            tm.execute_task(str(bad.id))
        assert bad.status is TaskStatus.FAILED


def test_errors_cross_the_thread_boundary() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        with pytest.raises(TaskNotFoundError):
            tm.get_task(uuid.uuid4())
        with pytest.raises(TaskNotFoundError):
            tm.cancel_task(uuid.uuid4())


def test_cancel_task_and_cancel_all() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        tm.manager.set_max_workers(0)
        first, second = Task(execute=_double(1)), Task(execute=_double(2))
        tm.register_task(first)
        tm.register_task(second)
        tm.cancel_task(first.id)
        assert first.status is TaskStatus.CANCELLED
        tm.cancel_all()
        assert second.status is TaskStatus.CANCELLED
        assert tm.get_metrics().cancelled == 2


def test_delayed_registration() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        tm.manager.set_max_workers(0)
        later, at = Task(execute=_double(1)), Task(execute=_double(2))
        tm.register_task_after(later, 3600)
        tm.register_task_at(at, tm.manager.clock.now() + 3600)
        assert later.status is TaskStatus.QUEUED
        assert at.status is TaskStatus.QUEUED
        assert tm.get_metrics().queue_depth == 2
        tm.stop_now()


def test_results_iterator_yields_and_ends_at_stop() -> None:
    tm = BlockingTaskManager(max_workers=1, tasks_per_second=0)
    results = tm.results(10)
    received: list[object] = []
    consumer = threading.Thread(target=lambda: received.extend(results))
    consumer.start()
    task = Task(execute=_double(5))
    tm.register_task(task)
    tm.wait(WAIT)
    tm.stop_graceful()  # ends the stream: the consumer's loop finishes
    join(consumer)
    assert [(r.task, r.result) for r in received] == [(task, 10)]  # type: ignore[attr-defined]


def test_results_iteration_after_stop_ends() -> None:
    tm = BlockingTaskManager(max_workers=1, tasks_per_second=0)
    results = tm.results(10)
    tm.stop_now()
    assert list(results) == []  # ended, like the stream it wraps


def test_results_close_ends_iteration() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        results = tm.results()
        results.close()
        assert list(results) == []


def test_calls_from_several_threads() -> None:
    with BlockingTaskManager(max_workers=2, tasks_per_second=0, max_tasks=100) as tm:
        tasks = [Task(execute=_double(i)) for i in range(40)]
        errors: list[BaseException] = []

        def register(chunk: list[Task]) -> None:
            try:
                for task in chunk:
                    tm.register_task(task)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=register, args=(tasks[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            join(thread)
        tm.wait(WAIT)
        assert errors == []
        assert sorted(t.result for t in tasks) == [i * 2 for i in range(40)]


def test_wraps_an_existing_manager() -> None:
    manager = TaskManager(max_workers=1, tasks_per_second=0)
    with BlockingTaskManager(manager=manager) as tm:
        assert tm.manager is manager
        task = Task(execute=_double(3))
        tm.register_task(task)
        tm.wait(WAIT)
        assert task.result == 6


def test_with_block_stops_gracefully_then_refuses_calls() -> None:
    with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
        task = Task(execute=_double(4))
        tm.register_task(task)
    assert task.status is TaskStatus.COMPLETED
    with pytest.raises(RuntimeError, match="closed"):
        tm.register_task(Task(execute=_double(1)))


def test_stop_now_is_idempotent_on_the_facade() -> None:
    tm = BlockingTaskManager(max_workers=1, tasks_per_second=0)
    tm.stop_now()
    tm.stop_now()  # docs/task-manager.md#wait-stop_graceful-stop_now: stop_now is idempotent


def test_error_in_with_block_stops_now() -> None:
    waiting = Task(execute=_double(1))

    def use() -> None:
        with BlockingTaskManager(max_workers=1, tasks_per_second=0) as tm:
            tm.manager.set_max_workers(0)
            tm.register_task(waiting)
            raise ValueError("caller failed")

    with pytest.raises(ValueError, match="caller failed"):
        use()
    assert waiting.status is TaskStatus.CANCELLED


def test_stopped_manager_refuses_registration_via_the_facade() -> None:
    tm = BlockingTaskManager(max_workers=1, tasks_per_second=0)
    try:
        tm.manager.set_max_workers(0)
        tm.register_task(Task(execute=_double(1)))  # never runs: no worker
        # A graceful stop that times out leaves the manager refusing tasks and the facade's loop running.
        with pytest.raises(WaitTimeoutError):
            tm.stop_graceful(0.01)
        with pytest.raises(NotAcceptingTasksError):
            tm.register_task(Task(execute=_double(1)))
    finally:
        tm.stop_now()
