"""Results (docs/task-manager.md#results): fan-out to every subscriber, bounded buffers, DROP_NEWEST / DROP_OLDEST
and the drop
counter, buffer normalisation, close, context managers, get_results, streams ending at stop."""

from __future__ import annotations

import asyncio

from pyworker.application import TaskManager
from pyworker.domain import DropPolicy, Result, Task, TaskStatus
from tests.support.waits import collect, next_result, until, within
from tests.unit.application.support import BoomError, MakeManager, Recorder, failing, ok


async def _finish(tm: TaskManager, count: int) -> list[Task]:
    tasks = [Task(execute=Recorder().fn(str(i))) for i in range(count)]
    for task in tasks:
        await tm.register_task(task)
    await within(tm.wait())
    return tasks


def _drain(stream: object) -> list[Result]:
    items = []
    while (item := stream.get_nowait()) is not None:  # type: ignore[attr-defined]
        items.append(item)
    return items


async def test_every_subscriber_gets_every_result_in_order(tm: TaskManager) -> None:
    """(Order of publication is the order tasks finish; with one worker that is FIFO.)"""
    first, second = tm.subscribe_results(10), tm.subscribe_results(10)
    tasks = await _finish(tm, 4)
    assert [r.task for r in _drain(first)] == tasks
    assert [r.task for r in _drain(second)] == tasks


async def test_result_carries_task_value_and_error(tm: TaskManager) -> None:
    stream = tm.subscribe_results(5)
    good = Task(execute=ok)
    bad = Task(execute=failing(1))
    await tm.register_task(good)
    await tm.register_task(bad)
    await within(tm.wait())
    by_task = {r.task.id: r for r in _drain(stream)}
    assert by_task[good.id].result == "ok"
    assert by_task[good.id].error is None
    assert by_task[good.id].status is TaskStatus.COMPLETED
    assert by_task[bad.id].result is None
    assert isinstance(by_task[bad.id].error, BoomError)
    assert by_task[bad.id].status is TaskStatus.FAILED
    assert "Result: ok" in str(by_task[good.id])


async def test_results_before_subscribing_are_not_replayed(tm: TaskManager) -> None:
    await _finish(tm, 2)
    stream = tm.subscribe_results(10)
    later = await _finish(tm, 1)
    assert [r.task for r in _drain(stream)] == later


async def test_results_without_subscribers_are_not_drops(tm: TaskManager) -> None:
    await _finish(tm, 3)
    assert tm.get_metrics().results_dropped == 0


async def test_drop_newest_keeps_the_first_and_counts_drops(tm: TaskManager) -> None:
    stream = tm.subscribe_results(2)
    roomy = tm.subscribe_results(10)
    tasks = await _finish(tm, 5)
    assert [r.task for r in _drain(stream)] == tasks[:2]
    assert len(_drain(roomy)) == 5
    assert tm.get_metrics().results_dropped == 3


async def test_drop_oldest_keeps_the_latest_and_counts_nothing(tm: TaskManager) -> None:
    tm.set_results_drop_policy(DropPolicy.DROP_OLDEST)
    stream = tm.subscribe_results(2)
    tasks = await _finish(tm, 5)
    assert [r.task for r in _drain(stream)] == tasks[-2:]
    assert tm.get_metrics().results_dropped == 0


async def test_drop_policy_accepts_plain_ints_and_unknown_means_newest(tm: TaskManager) -> None:
    tm.set_results_drop_policy(1)
    oldest = tm.subscribe_results(1)
    tasks = await _finish(tm, 2)
    assert [r.task for r in _drain(oldest)] == tasks[-1:]
    oldest.close()
    tm.set_results_drop_policy(7)
    newest = tm.subscribe_results(1)
    tasks = await _finish(tm, 2)
    assert [r.task for r in _drain(newest)] == tasks[:1]
    assert tm.get_metrics().results_dropped == 1


async def test_drops_are_counted_per_subscriber(tm: TaskManager) -> None:
    tm.subscribe_results(1)
    tm.subscribe_results(1)
    await _finish(tm, 3)
    assert tm.get_metrics().results_dropped == 4


async def test_non_positive_buffer_means_one(tm: TaskManager) -> None:
    for size in (0, -4):
        stream = tm.subscribe_results(size)
        assert stream.buffer == 1
    await _finish(tm, 2)
    assert tm.get_metrics().results_dropped == 2  # each of the two streams holds one, drops one


async def test_default_buffer_is_ten(tm: TaskManager) -> None:
    assert tm.subscribe_results().buffer == 10
    assert tm.get_results().buffer == 10


async def test_get_results_receives_and_ends_at_stop(make_manager: MakeManager) -> None:
    tm = make_manager()
    stream = tm.get_results()
    tasks = await _finish(tm, 2)
    await within(tm.stop_now())
    assert [r.task for r in await collect(stream)] == tasks


async def test_close_ends_iteration_and_unsubscribes(tm: TaskManager) -> None:
    stream = tm.subscribe_results(1)
    await _finish(tm, 1)
    stream.close()
    stream.close()  # idempotent
    assert stream.closed
    assert await collect(stream) == []  # buffered results are discarded on close
    await _finish(tm, 3)
    assert tm.get_metrics().results_dropped == 0  # no longer subscribed


async def test_async_iteration_waits_for_the_next_result(tm: TaskManager) -> None:
    stream = tm.subscribe_results(5)
    consumer = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    assert not consumer.done()
    task = Task(execute=ok)
    await tm.register_task(task)
    result = await within(consumer)
    assert result.task is task


async def test_close_wakes_a_waiting_consumer(tm: TaskManager) -> None:
    stream = tm.subscribe_results(5)

    async def consume() -> list[Result]:
        return await collect(stream)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    stream.close()
    assert await within(consumer) == []


async def test_stop_wakes_a_waiting_consumer(make_manager: MakeManager) -> None:
    tm = make_manager()
    stream = tm.subscribe_results(5)
    consumer = asyncio.ensure_future(anext(stream, None))
    await asyncio.sleep(0)
    await within(tm.stop_now())
    assert await within(consumer) is None


async def test_async_context_manager_closes(tm: TaskManager) -> None:
    async with tm.subscribe_results(5) as stream:
        tasks = await _finish(tm, 1)
        assert (await next_result(stream)).task is tasks[0]
    assert stream.closed
    await _finish(tm, 3)
    assert tm.get_metrics().results_dropped == 0


async def test_sync_context_manager_closes(tm: TaskManager) -> None:
    with tm.subscribe_results(1) as stream:
        pass
    assert stream.closed
    await _finish(tm, 3)
    assert tm.get_metrics().results_dropped == 0


async def test_a_slow_subscriber_never_stalls_workers(tm: TaskManager) -> None:
    stream = tm.subscribe_results(1)  # never read
    tasks = [t for _ in range(3) for t in await _finish(tm, 8)]
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert len(stream) == 1


async def test_retried_attempts_publish_nothing(make_manager: MakeManager) -> None:
    tm = make_manager(retry_delay=1, max_retries=3)
    stream = tm.subscribe_results(10)
    task = Task(execute=failing(2), retries=3)
    await tm.register_task(task)
    for _ in range(2):
        await until(lambda: task.status is TaskStatus.WAITING_RETRY)
        assert len(stream) == 0
        tm.clock.advance(10)  # type: ignore[attr-defined]
    await within(tm.wait())
    assert [r.task for r in _drain(stream)] == [task]
