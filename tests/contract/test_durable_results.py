"""The durable outcomes contract (DurableQueue.configure_results + DurableResults): one suite, every adapter."""

from __future__ import annotations

import asyncio

import pytest

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.application.outcomes import DurableResults, DurableResultsProvider
from pyworker.domain import DurableLeaseNotFoundError, DurableOutcome, TaskStatus
from tests.support.waits import settle, until, within

from .conftest import DurableEnv
from .durable_support import PROMPTLY, make_task

NODE = "node-b"


def results_of(env: DurableEnv) -> DurableResults:
    backend: object = env.queue
    assert isinstance(backend, DurableResultsProvider)
    return backend.results()


async def stream(env: DurableEnv) -> list[DurableOutcome]:
    """Every outcome the stream holds, oldest first."""
    results = results_of(env)
    cursor = results.results_cursor(0.0)
    found: list[DurableOutcome] = []
    while True:
        cursor, outcomes = await results.read_results(cursor, 0.0, 1000)
        if not outcomes:
            return found
        found.extend(outcomes)


async def prefix_keys(env: DurableEnv) -> set[bytes]:
    assert isinstance(env.queue, RedisDurableBackend)
    client = env.queue.store.client
    return {key async for key in client.scan_iter(match=env.queue.keys.pattern, count=1000)}


async def test_an_ack_records_the_outcome_and_one_stream_entry(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)

    await env.queue.ack(lease, "42")

    outcome = await results_of(env).get_result(task.id)
    assert outcome == DurableOutcome(
        id=task.id, status=TaskStatus.COMPLETED, output="42", error="", attempts=1, node=NODE,
        handler="send_email", finished_at=env.clock.now(),
    )  # fmt: skip
    assert await stream(env) == [outcome]


async def test_ack_many_records_each_lease_with_its_own_output(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    tasks = [make_task() for _ in range(5)]
    await env.queue.enqueue_many(tasks)
    leases = await env.queue.dequeue(5, 30.0)

    assert await env.queue.ack_many(leases, [f"out {lease.task.id}" for lease in leases]) == [None] * 5

    outcomes = await stream(env)
    assert [(o.id, o.output) for o in outcomes] == [(lease.task.id, f"out {lease.task.id}") for lease in leases]


async def test_a_stale_ack_records_nothing(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)
    stale = lease.__class__(lease.task, "not-the-token", lease.attempts, lease.max_retries, lease.expires_at)

    with pytest.raises(DurableLeaseNotFoundError):
        await env.queue.ack(stale, "nope")

    assert await results_of(env).get_result(task.id) is None
    assert await stream(env) == []


async def test_fail_records_failed_and_cancelled_when_asked(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    failed, cancelled = make_task(), make_task()
    await env.queue.enqueue_many([failed, cancelled])
    leases = {lease.task.id: lease for lease in await env.queue.dequeue(2, 30.0)}

    await env.queue.fail(leases[failed.id], RuntimeError("boom"))
    await env.queue.fail(leases[cancelled.id], "task cancelled", status=TaskStatus.CANCELLED)

    got_failed = await results_of(env).get_result(failed.id)
    got_cancelled = await results_of(env).get_result(cancelled.id)
    assert got_failed is not None
    assert got_cancelled is not None
    assert (got_failed.status, got_failed.error, got_failed.output, got_failed.attempts) == (
        TaskStatus.FAILED, "boom", "", 1,
    )  # fmt: skip
    assert (got_cancelled.status, got_cancelled.error) == (TaskStatus.CANCELLED, "task cancelled")
    assert [o.id for o in await stream(env)] == [failed.id, cancelled.id]


async def test_a_dead_task_brought_back_loses_its_stale_outcome(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)
    await env.queue.fail(lease, "boom")
    assert await results_of(env).get_result(task.id) is not None

    assert await env.inspector.replay_dead(10) == 1

    assert await results_of(env).get_result(task.id) is None  # it runs again


async def test_the_outcome_expires_after_the_ttl(env: DurableEnv) -> None:
    ttl = 0.3 if env.kind != "memory" else 60.0  # Redis expires by its own clock: a short PX
    await env.queue.configure_results(ttl, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)
    await env.queue.ack(lease, "x")
    results = results_of(env)
    assert await results.get_result(task.id) is not None
    if env.kind == "memory":
        env.clock.advance(59.9)
        assert await results.get_result(task.id) is not None
        env.clock.advance(0.2)
        assert await results.get_result(task.id) is None
    else:

        async def gone() -> bool:
            await asyncio.sleep(0.05)
            return await results.get_result(task.id) is None

        await until(gone, PROMPTLY)


async def test_the_stream_stays_bounded(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 10, NODE)
    total = 300
    tasks = [make_task() for _ in range(total)]
    await env.queue.enqueue_many(tasks)
    for _ in range(total // 50):
        leases = await env.queue.dequeue(50, 30.0)
        await env.queue.ack_many(leases, ["x"] * len(leases))

    kept = await stream(env)
    # Redis trims whole stream nodes (MAXLEN ~, up to 100 entries each); the newest are kept.
    assert 10 <= len(kept) <= 10 + 100
    assert kept[-1].id == tasks[-1].id


async def test_results_off_writes_nothing(env: DurableEnv) -> None:
    await env.queue.configure_results(0.0, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)
    before = await prefix_keys(env) if env.kind != "memory" else set()

    await env.queue.ack(lease, "x")

    assert await results_of(env).get_result(task.id) is None
    assert await stream(env) == []
    if env.kind != "memory":
        after = await prefix_keys(env)
        assert not {key for key in after - before if b":result" in key}
        assert not [key for key in after if b":result" in key]


async def test_a_reader_from_now_sees_only_later_outcomes_and_wakes_for_them(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    old, new = make_task(), make_task()
    await env.queue.enqueue_many([old, new])
    leases = {lease.task.id: lease for lease in await env.queue.dequeue(2, 30.0)}
    await env.queue.ack(leases[old.id], "old")
    results = results_of(env)
    cursor, outcomes = await results.read_results(None, 0.0, 10)
    assert outcomes == []

    reading = asyncio.ensure_future(results.read_results(cursor, PROMPTLY, 10))
    await settle()  # let the reader start waiting (either way the outcome must reach it)
    await env.queue.ack(leases[new.id], "new")
    cursor, outcomes = await within(reading, PROMPTLY)

    assert [o.output for o in outcomes] == ["new"]
    assert (await results.read_results(cursor, 0.0, 10))[1] == []


async def test_a_cursor_for_a_time_reads_what_was_recorded_after_it(env: DurableEnv) -> None:
    await env.queue.configure_results(60.0, 100, NODE)
    task = make_task()
    await env.queue.enqueue(task)
    [lease] = await env.queue.dequeue(1, 30.0)
    results = results_of(env)
    cursor = results.results_cursor(env.clock.now())

    await env.queue.ack(lease, "after")

    assert [o.output for o in (await results.read_results(cursor, 0.0, 10))[1]] == ["after"]


async def test_any_text_survives_in_the_outcome(env: DurableEnv) -> None:
    node = 'node "b"\\1 ü'
    await env.queue.configure_results(60.0, 100, node)
    acked, failed = make_task(handler='sénd "mail"\n'), make_task(handler="plain")
    await env.queue.enqueue_many([acked, failed])
    leases = {lease.task.id: lease for lease in await env.queue.dequeue(2, 30.0)}
    output, error = 'a "quoted" \\ line\nünïcode \x00 \U0001f600', 'bad "thing"\t\\ ü'

    await env.queue.ack(leases[acked.id], output)
    await env.queue.fail(leases[failed.id], error)

    got = {o.id: o for o in await stream(env)}
    assert (got[acked.id].output, got[acked.id].handler, got[acked.id].node) == (output, 'sénd "mail"\n', node)
    assert (got[failed.id].error, got[failed.id].handler) == (error, "plain")
    assert await results_of(env).get_result(acked.id) == got[acked.id]
