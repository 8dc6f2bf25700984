"""Tracer (docs/task-manager.md#tracer-and-meter-ports): one span per attempt, end() gets the attempt's raw error,
a raising start() or end()
is logged and the attempt still runs, set_tracer(None) disables."""

from __future__ import annotations

import logging

import attrs
import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.application import AttemptInfo, Tracer
from pyworker.application.ports import TaskSpan
from pyworker.domain import Task, TaskStatus
from tests.support.waits import until, within
from tests.unit.application.support import BoomError, MakeManager, failing, ok


class FakeSpan:
    def __init__(self, log: list[tuple[str, object]], attempt: AttemptInfo) -> None:
        self._log = log
        self.attempt = attempt
        self.ended: list[BaseException | None] = []

    def end(self, error: BaseException | None) -> None:
        self.ended.append(error)
        self._log.append(("end", error))


class FakeTracer:
    """Records spans; optionally fails in start or in end."""

    def __init__(self, fail_start: bool = False, fail_end: bool = False) -> None:
        self.spans: list[FakeSpan] = []
        self.log: list[tuple[str, object]] = []
        self.fail_start = fail_start
        self.fail_end = fail_end

    def start(self, attempt: AttemptInfo) -> TaskSpan:
        self.log.append(("start", attempt.attempt))
        if self.fail_start:
            raise RuntimeError("tracer down")
        span = FakeSpan(self.log, attempt)
        if self.fail_end:

            def broken_end(error: BaseException | None) -> None:
                raise RuntimeError("span end failed")

            span.end = broken_end  # type: ignore[method-assign]
        self.spans.append(span)
        return span


def test_fake_tracer_conforms_to_the_port() -> None:
    assert isinstance(FakeTracer(), Tracer)


async def test_one_span_per_attempt_with_the_raw_error(make_manager: MakeManager, clock: ManualClock) -> None:
    tracer = FakeTracer()
    tm = make_manager(retry_delay=1, tracer=tracer)
    errors: list[BaseException] = []

    async def flaky(ctx: object) -> str:
        if not errors:
            errors.append(BoomError("first"))
            raise errors[0]
        return "second"

    task = Task(execute=flaky, retries=1)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(2)
    await within(tm.wait())
    assert [(s.attempt.task_id, s.attempt.attempt) for s in tracer.spans] == [(task.id, 1), (task.id, 2)]
    assert tracer.spans[0].ended == [errors[0]]  # the very object the function raised
    assert tracer.spans[1].ended == [None]
    assert [entry[0] for entry in tracer.log] == ["start", "end", "start", "end"]
    assert tracer.log[0][1] == 1  # spans start once the attempt runs: it counts as attempt 1


async def test_the_tracer_gets_a_frozen_description_of_the_attempt(make_manager: MakeManager) -> None:
    tracer = FakeTracer()
    tm = make_manager(tracer=tracer)
    task = Task(
        execute=ok,
        name="report",
        queue="reports",
        priority=3,
        weight=2,
        metadata={"tenant": "acme"},
        correlation_id="req-7",
    )
    await tm.register_task(task)
    await tm.wait(timeout=5)
    (span,) = tracer.spans
    assert span.attempt == AttemptInfo(
        task_id=task.id,
        name="report",
        queue="reports",
        priority=3,
        weight=2,
        attempt=1,
        metadata={"tenant": "acme"},
        correlation_id="req-7",
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        span.attempt.name = "changed"  # type: ignore[misc]  # frozen: the tracer cannot change the task


async def test_execute_task_attempts_are_traced(make_manager: MakeManager) -> None:
    tracer = FakeTracer()
    tm = make_manager(tracer=tracer)
    task = Task(execute=ok)
    await tm.register_task(task)
    await within(tm.execute_task(task.id))
    assert len(tracer.spans) == 1
    assert tracer.spans[0].ended == [None]


async def test_failed_task_span_gets_the_error(make_manager: MakeManager) -> None:
    tracer = FakeTracer()
    tm = make_manager(tracer=tracer)
    task = Task(execute=failing(1))
    await tm.register_task(task)
    await within(tm.wait())
    [span] = tracer.spans
    assert span.ended == [task.error]


async def test_raising_start_falls_back_and_the_attempt_runs(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = FakeTracer(fail_start=True)
    tm = make_manager(tracer=tracer)
    tasks = [Task(execute=ok), Task(execute=failing(1))]
    with caplog.at_level(logging.ERROR):
        for task in tasks:
            await tm.register_task(task)
        await within(tm.wait())
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED, TaskStatus.FAILED]
    assert tasks[0].result == "ok"
    assert any("tracer.start raised" in r.getMessage() for r in caplog.records)


async def test_raising_end_is_logged_and_the_task_completes(
    make_manager: MakeManager, caplog: pytest.LogCaptureFixture
) -> None:
    tm = make_manager(tracer=FakeTracer(fail_end=True))
    task = Task(execute=ok)
    with caplog.at_level(logging.ERROR):
        await tm.register_task(task)
        await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert any("span.end raised" in r.getMessage() for r in caplog.records)


async def test_set_tracer_installs_and_none_disables(make_manager: MakeManager) -> None:
    tm = make_manager()
    tracer = FakeTracer()
    tm.set_tracer(tracer)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert len(tracer.spans) == 1
    tm.set_tracer(None)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    assert len(tracer.spans) == 1
