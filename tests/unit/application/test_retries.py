"""Retries and backoff (docs/task-manager.md#retries-and-backoff): WAITING_RETRY ("RateLimited"), deterministic
delays, clamping,
re-enqueue after the delay, a single terminal outcome."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pyworker.adapters.clock import ManualClock
from pyworker.domain import Task, TaskCancelledError, TaskStatus, retry_delay
from tests.support.waits import settle, until, within
from tests.unit.application.support import BoomError, HookLog, MakeManager, failing

GOLDEN_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")


def attempts_reached(task: Task, count: int) -> Callable[[], bool]:
    return lambda: task.attempts == count


async def test_failed_attempt_waits_then_retries_to_success(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=2, hooks=log.hooks())
    stream = tm.subscribe_results(5)
    task = Task(execute=failing(1, result="second time"), retries=3)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    assert task.status.wire_name == "RateLimited"
    assert stream.get_nowait() is None  # a retried attempt publishes nothing
    delay = retry_delay(2.0, 1, task.id)
    clock.advance(delay - 0.001)
    await settle()
    assert task.status is TaskStatus.WAITING_RETRY
    assert task.attempts == 1
    clock.advance(0.01)  # past the due time, whatever the float rounding of two steps
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED
    assert task.result == "second time"
    assert task.error is None
    assert task.attempts == 2
    assert log.kinds(task) == ["queued", "start", "retry", "start", "finish"]
    metrics = tm.get_metrics()
    assert (metrics.retried, metrics.failed, metrics.completed) == (1, 0, 1)
    result = stream.get_nowait()
    assert result is not None
    assert result.result == "second time"
    assert stream.get_nowait() is None


async def test_exhausted_retries_fail_with_the_last_error(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=1, hooks=log.hooks())
    stream = tm.subscribe_results(5)
    task = Task(execute=failing(10), retries=2)
    await tm.register_task(task)
    for attempt in (1, 2):
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        clock.advance(retry_delay(1.0, attempt, task.id))
        await until(attempts_reached(task, attempt + 1))
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert isinstance(task.error, BoomError)
    assert str(task.error) == "attempt 3"
    assert task.attempts == 3
    retries = [c for c in log.calls if c[0] == "retry"]
    assert [(c[2], c[3]) for c in retries] == [(retry_delay(1.0, 1, task.id), 1), (retry_delay(1.0, 2, task.id), 2)]
    assert len(log.finishes()) == 1
    metrics = tm.get_metrics()
    assert (metrics.retried, metrics.failed) == (2, 1)  # the terminal failure is counted once
    results = [stream.get_nowait(), stream.get_nowait()]
    assert results[1] is None
    assert results[0] is not None
    assert results[0].error is task.error


async def test_attempt_number_reaches_the_function(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retry_delay=1)
    seen: list[int] = []

    async def record(ctx: object) -> None:
        seen.append(ctx.attempt)  # type: ignore[attr-defined]
        if len(seen) < 3:
            raise BoomError

    task = Task(execute=record, retries=5)
    await tm.register_task(task)
    for attempt in (1, 2):
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        clock.advance(retry_delay(1.0, attempt, task.id))
    await within(tm.wait())
    assert seen == [1, 2, 3]


async def test_golden_delay_for_a_known_id(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())  # manager retry_delay defaults to 1 s
    task = Task(execute=failing(1), retries=1, id=GOLDEN_ID)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    [retry] = [c for c in log.calls if c[0] == "retry"]
    assert retry[2] == 0.933072894
    assert retry[3] == 1


async def test_backoff_doubles_per_attempt(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(hooks=log.hooks())
    task = Task(execute=failing(2), retries=2, retry_delay=1, id=GOLDEN_ID)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(1)
    await until(lambda: task.attempts == 2 and task.status is TaskStatus.WAITING_RETRY)
    clock.advance(3)
    await within(tm.wait())
    assert [c[2] for c in log.calls if c[0] == "retry"] == [0.933072894, 2.062318141]


async def test_task_retry_delay_overrides_the_manager_default(make_manager: MakeManager) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=5, hooks=log.hooks())
    own = Task(execute=failing(1), retries=1, retry_delay=0.05)
    default = Task(execute=failing(1), retries=1)
    await tm.register_task(own)
    await tm.register_task(default)
    await until(lambda: default.status is TaskStatus.WAITING_RETRY)
    delays = {c[1]: c[2] for c in log.calls if c[0] == "retry"}
    assert delays[own.id] == retry_delay(0.05, 1, own.id)
    assert delays[default.id] == retry_delay(5.0, 1, default.id)


async def test_retries_are_clamped_to_max_retries(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_retries=1, retry_delay=1)
    task = Task(execute=failing(10), retries=5)
    await tm.register_task(task)
    assert task.retries == 1
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(2)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert task.attempts == 2


async def test_max_retries_zero_disables_retries(make_manager: MakeManager) -> None:
    tm = make_manager(max_retries=0)
    task = Task(execute=failing(1), retries=3)
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert task.attempts == 1
    assert tm.get_metrics().retried == 0


async def test_no_retries_by_default_on_the_task(make_manager: MakeManager) -> None:
    tm = make_manager()
    task = Task(execute=failing(1))
    await tm.register_task(task)
    await within(tm.wait())
    assert task.status is TaskStatus.FAILED
    assert task.attempts == 1


async def test_retry_is_re_enqueued_as_queued(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(retry_delay=1)
    task = Task(execute=failing(1), retries=1)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    assert tm.get_metrics().queue_depth == 0  # backoff is not waiting in the queue
    tm.set_max_workers(0)
    await settle()  # the idle worker exits
    clock.advance(2)
    assert task.status is TaskStatus.QUEUED
    assert tm.get_metrics().queue_depth == 1
    tm.set_max_workers(1)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


async def test_cancel_during_backoff_finishes_at_once(make_manager: MakeManager, clock: ManualClock) -> None:
    log = HookLog()
    tm = make_manager(retry_delay=1, hooks=log.hooks())
    task = Task(execute=failing(1), retries=2)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    await tm.cancel_task(task.id)
    assert task.status is TaskStatus.CANCELLED
    assert isinstance(task.error, TaskCancelledError)
    assert task.cancelled_at == clock.now()
    clock.advance(10)
    await settle()
    assert task.attempts == 1  # the backoff timer is gone
    assert log.kinds(task) == ["queued", "start", "retry", "finish"]
    await within(tm.wait())


async def test_stop_now_during_backoff_does_not_leave_the_task_stuck(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(retry_delay=1)
    task = Task(execute=failing(1), retries=2)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    await within(tm.stop_now())
    assert task.status is TaskStatus.CANCELLED
    await within(tm.wait())  # returns: nothing is pending any more
    clock.advance(10)
    await settle()
    assert task.attempts == 1
