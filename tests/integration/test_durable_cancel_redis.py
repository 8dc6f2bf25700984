"""Cancellation across nodes on the real Redis (docs/cluster.md#cancellation): two TaskManagers, each with its
own client; A cancels what B runs. B polls only every 5 s and leases for 30 s without renewal, so an end within
CANCEL_BOUND proves the pub/sub notification."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyworker.adapters.grpc.mapping import record_message
from pyworker.application import TypedDurableRegistry
from pyworker.domain import DurableState, DurableTask, TaskContext, TaskStatus
from tests.integration.test_durable_manager_redis import Nodes, inspect, node
from tests.support.waits import next_result, until, within

pytestmark = pytest.mark.redis

#: Far below B's poll interval (5 s) and lease (30 s): only the notification can be this quick.
CANCEL_BOUND = 2.0
SLOW: dict[str, Any] = {"durable_poll_interval": 5.0, "durable_lease": 30.0}


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


@pytest.fixture
async def managers() -> AsyncIterator[Nodes]:
    made = Nodes()
    yield made
    for manager in made:
        await within(manager.stop_now())
    for backend in made.backends:
        await within(backend.close())


def registry(fn: Any) -> TypedDurableRegistry:
    made = TypedDurableRegistry()
    made.add("work", dict, fn)
    return made


async def _a_observes_cancelled(prefix: str, task_id: uuid.UUID, reason: str) -> None:
    reader = await inspect(prefix)
    try:
        record = await reader.get(task_id)
    finally:
        await reader.close()
    assert (record.state, record.cancelled, record.last_error) == (DurableState.DEAD, True, f"task cancelled: {reason}")
    assert record.attempts == 1  # no retry
    assert record_message(record).status == "Cancelled"


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_running_task_on_b_cancelled_from_a_ends_cancelled_on_b(
    prefix: str, managers: Nodes, kind: str
) -> None:
    started = threading.Event()
    saw: list[str] = []

    async def run_async(ctx: TaskContext, message: dict[str, Any]) -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            saw.append("cancelled")
            raise
        return "finished"

    def run_sync(ctx: TaskContext, message: dict[str, Any]) -> str:
        started.set()
        if ctx.wait(60):
            saw.append("ctx.cancelled")
            ctx.raise_if_cancelled()
        return "finished"

    b = node(managers, prefix, registry(run_async if kind == "async" else run_sync), max_workers=1, **SLOW)
    a = node(managers, prefix, registry(run_async), durable_queues=["elsewhere"], **SLOW)  # leases nothing here
    await b.start()
    await a.start()
    results = b.subscribe_results()
    task_id = await a.register_durable_task(DurableTask(handler="work", message={"n": 1}, retries=3))
    await until(started.is_set)

    await a.cancel_task(task_id, reason=f"stop the {kind} one")

    result = await next_result(results, CANCEL_BOUND)
    assert (result.task.id, result.task.status) == (task_id, TaskStatus.CANCELLED)
    assert saw == ["cancelled" if kind == "async" else "ctx.cancelled"]
    await _a_observes_cancelled(prefix, task_id, f"stop the {kind} one")


async def test_a_waiting_task_is_withdrawn_from_any_node(prefix: str, managers: Nodes) -> None:
    a = node(managers, prefix, registry(lambda ctx, message: None), durable_queues=["elsewhere"], **SLOW)
    await a.start()
    task_id = await a.register_durable_task(DurableTask(handler="work", message={"n": 1}, run_at=10**10))

    await within(a.cancel_task(task_id, reason="not wanted"))

    reader = await inspect(prefix)
    try:
        record = await reader.get(task_id)
        stats = await reader.stats()
    finally:
        await reader.close()
    assert (record.cancelled, record.last_error, stats.total_delayed) == (True, "task cancelled: not wanted", 0)
