"""Rate limiting (docs/task-manager.md#rate-limiting, docs/task-manager.md#construction-and-defaults): a token
bucket with burst min(max_workers, max_tasks), starting full,
shared by workers, retries and execute_task; tasks_per_second <= 0 disables it."""

from __future__ import annotations

import asyncio

from pyworker.adapters.clock import ManualClock
from pyworker.application.rate_limit import TokenBucket
from pyworker.domain import Task, TaskStatus
from tests.support.waits import settle, until, within
from tests.unit.application.support import MakeManager, Recorder, failing, ok


async def test_burst_then_one_start_per_token(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=2, max_tasks=10, tasks_per_second=2)
    rec = Recorder()
    for i in range(5):
        await tm.register_task(Task(execute=rec.fn(str(i))))
    await settle()
    assert rec.order == ["0", "1"]  # burst = min(2 workers, 10 tasks)
    clock.advance(0.25)
    await settle()
    assert len(rec.order) == 2  # a token takes 1/rate = 0.5 s
    clock.advance(0.25)
    await until(lambda: len(rec.order) == 3)
    clock.advance(0.5)
    await until(lambda: len(rec.order) == 4)
    await settle()
    assert len(rec.order) == 4
    clock.advance(0.5)
    await within(tm.wait())
    assert rec.order == ["0", "1", "2", "3", "4"]


async def test_burst_is_bounded_by_max_tasks(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=4, max_tasks=1, tasks_per_second=1)
    rec = Recorder()
    await tm.register_task(Task(execute=rec.fn("a")))
    await until(lambda: rec.order == ["a"])
    await tm.register_task(Task(execute=rec.fn("b")))
    await settle()
    assert rec.order == ["a"]  # burst 1 = min(4, 1): the second start waits a full second
    clock.advance(1)
    await within(tm.wait())
    assert rec.order == ["a", "b"]


async def test_non_positive_rate_means_unlimited(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1, max_tasks=50, tasks_per_second=-1)
    tasks = [Task(execute=ok) for _ in range(30)]
    await tm.register_tasks(tasks)
    await until(lambda: all(t.status is TaskStatus.COMPLETED for t in tasks))


async def test_retry_attempts_take_a_token(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1, retry_delay=0.125)
    task = Task(execute=failing(1), retries=1)
    await tm.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(0.25)  # the backoff (0.125 s +-10%) is over, but the bucket is still empty
    await until(lambda: task.status is TaskStatus.QUEUED)
    await settle()
    assert task.attempts == 1
    clock.advance(0.75)
    await within(tm.wait())
    assert task.status is TaskStatus.COMPLETED
    assert task.attempts == 2


async def test_execute_task_takes_a_token_from_the_shared_bucket(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1)
    first = Task(execute=ok)
    await tm.register_task(first)
    assert await within(tm.execute_task(first.id)) == "ok"  # uses the only token
    rec = Recorder()
    await tm.register_task(Task(execute=rec.fn("worker")))
    await settle()
    assert rec.order == []
    clock.advance(1)
    await within(tm.wait())
    assert rec.order == ["worker"]


async def test_execute_task_waits_for_a_token(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())  # the worker used the only token
    task = Task(execute=ok)
    tm.set_max_workers(0)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id))
    await settle()
    assert not call.done()
    assert task.status is TaskStatus.QUEUED
    clock.advance(1)
    assert await within(call) == "ok"
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


async def test_cancelled_execute_task_wait_puts_the_task_back(make_manager: MakeManager, clock: ManualClock) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1)
    await tm.register_task(Task(execute=ok))
    await within(tm.wait())
    tm.set_max_workers(0)
    task = Task(execute=ok)
    await tm.register_task(task)
    call = asyncio.ensure_future(tm.execute_task(task.id))
    await settle()
    call.cancel()
    await within(asyncio.gather(call, return_exceptions=True))
    assert task.status is TaskStatus.QUEUED
    assert tm.get_metrics().queue_depth == 1
    tm.set_max_workers(1)
    clock.advance(1)
    await within(tm.wait())
    assert tm.get_task(task.id).status is TaskStatus.COMPLETED


def test_token_bucket_starts_full_and_refills_at_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.25
    assert bucket.reserve() == 0.5
    clock.advance(10)  # refills, but never above the burst
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.25


def test_token_bucket_burst_is_at_least_one() -> None:
    bucket = TokenBucket(rate=1, burst=0, clock=ManualClock())
    assert bucket.burst == 1
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 1.0


async def test_token_of_a_task_cancelled_while_waiting_for_it_is_refunded(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1)
    rec = Recorder()
    await tm.register_task(Task(execute=rec.fn("first")))  # takes the only token
    await until(lambda: rec.order == ["first"])
    doomed = Task(execute=rec.fn("doomed"))
    await tm.register_task(doomed)
    await settle()  # the worker holds it, waiting one second for a token
    await tm.cancel_task(doomed.id)
    assert doomed.status is TaskStatus.CANCELLED
    third = Task(execute=rec.fn("third"))
    await tm.register_task(third)
    clock.advance(1)  # the token the cancelled task reserved goes to the next task
    await until(lambda: third.status is TaskStatus.COMPLETED)
    assert rec.order == ["first", "third"]


async def test_stop_now_cancels_a_task_waiting_for_a_token(make_manager: MakeManager) -> None:
    tm = make_manager(max_workers=1, tasks_per_second=1)
    rec = Recorder()
    await tm.register_task(Task(execute=rec.fn("first")))
    await until(lambda: rec.order == ["first"])
    waiting = Task(execute=rec.fn("waiting"))
    await tm.register_task(waiting)
    await settle()
    await within(tm.stop_now())
    assert waiting.status is TaskStatus.CANCELLED
    assert rec.order == ["first"]
