"""TaskManager in durable mode on the real Redis: round trip, retries, DLQ, two nodes, wake on enqueue, outage."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, new_redis_client
from pyworker.application import TaskHooks, TaskManager, TypedDurableRegistry
from pyworker.domain import (
    BackendUnavailableError,
    DurableState,
    DurableTask,
    Result,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
)
from tests.support.waits import next_result, within

pytestmark = pytest.mark.redis

HOST, PORT = "127.0.0.1", 6379
URL = f"redis://{HOST}:{PORT}/0"
#: A real-time bound that turns a hang into a failure; never a speed assertion.
BOUND = 5.0


class BoomError(Exception):
    """What the failing handler raises."""


class Runs:
    """Handler bodies for the JSON codec that record which node ran which task."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, uuid.UUID, int]] = []

    def registry(self, node: str, fail_first: int = 0, gate: Callable[[], Any] | None = None) -> TypedDurableRegistry:
        async def work(ctx: TaskContext, message: dict[str, Any]) -> Any:
            self.runs.append((node, ctx.task_id, ctx.attempt))
            if gate is not None:
                await gate()
            if ctx.attempt <= fail_first:
                raise BoomError(f"boom {ctx.attempt}")
            return message["n"] * 2

        registry = TypedDurableRegistry()
        registry.add("work", dict, work)
        return registry


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A unique prefix on the shared Redis; only its keys are deleted afterwards."""
    probe = redis.asyncio.Redis(host=HOST, port=PORT, retry=Retry(NoBackoff(), 0))
    try:
        await probe.ping()
    except (redis.ConnectionError, OSError):
        await probe.aclose()
        pytest.skip(f"no Redis server on {HOST}:{PORT}")
    name = f"pyworker-mgr-test-{uuid.uuid4().hex}"
    yield name
    try:
        keys = [key async for key in probe.scan_iter(match=RedisKeys(name).pattern, count=1000)]
        if keys:
            await probe.delete(*keys)
    finally:
        await probe.aclose()


class Nodes(list[TaskManager]):
    """Managers to stop at teardown, and the backends (with their clients) to close after them."""

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[RedisDurableBackend] = []


@pytest.fixture
async def managers() -> AsyncIterator[Nodes]:
    made = Nodes()
    yield made
    for manager in made:
        await within(manager.stop_now())
    for backend in made.backends:
        await within(backend.close())


def node(managers: Nodes, prefix: str, registry: TypedDurableRegistry, url: str = URL, **options: Any) -> TaskManager:
    options.setdefault("max_workers", 4)
    options.setdefault("tasks_per_second", 0)
    backend = RedisDurableBackend(new_redis_client(url), prefix=prefix, close_client=True)
    managers.backends.append(backend)
    manager = TaskManager(
        durable_backend=backend, durable_handlers=registry, durable_codec=JsonDurableCodec(), **options
    )
    managers.append(manager)
    return manager


def work(n: int, **fields: Any) -> DurableTask:
    return DurableTask(handler="work", message={"n": n}, id=uuid.uuid4(), **fields)


async def collect(stream: Any, count: int) -> list[Result]:
    async def gather() -> list[Result]:
        return [await next_result(stream) for _ in range(count)]

    return await within(gather(), BOUND)


async def inspect(prefix: str) -> RedisDurableBackend:
    return RedisDurableBackend(new_redis_client(URL), prefix=prefix, close_client=True)


async def test_round_trip_publishes_results_and_forgets_acked_tasks(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    tm = node(managers, prefix, runs.registry("one"))
    await tm.start()
    stream = tm.subscribe_results(32)
    ids = await tm.register_durable_tasks([work(n) for n in range(10)])
    results = await collect(stream, 10)
    assert {r.task.id for r in results} == set(ids)
    assert all(r.task.status is TaskStatus.COMPLETED for r in results)
    assert sorted(r.result for r in results) == [2 * n for n in range(10)]
    reader = await inspect(prefix)
    try:
        stats = await reader.stats()
        assert (stats.total_ready, stats.total_processing, stats.dead) == (0, 0, 0)
        with pytest.raises(TaskNotFoundError):
            await reader.get(ids[0])
    finally:
        await reader.close()


async def test_retry_then_success(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    tm = node(managers, prefix, runs.registry("one", fail_first=2), retry_delay=0.01)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(work(21, retries=3))
    (result,) = await collect(stream, 1)
    assert (result.task.id, result.task.status, result.result) == (task_id, TaskStatus.COMPLETED, 42)
    assert [attempt for _, _, attempt in runs.runs] == [1, 2, 3]
    assert stream.get_nowait() is None  # the failed attempts published nothing


async def test_final_failure_goes_to_the_dlq(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    tm = node(managers, prefix, runs.registry("one", fail_first=99), retry_delay=0.01)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(work(1, retries=1))
    (result,) = await collect(stream, 1)
    assert result.task.status is TaskStatus.FAILED
    assert isinstance(result.error, BoomError)
    reader = await inspect(prefix)
    try:
        (dead,) = (await reader.list_tasks(DurableState.DEAD)).records
        assert (dead.id, dead.state, dead.last_error, dead.attempts) == (task_id, DurableState.DEAD, "boom 2", 2)
    finally:
        await reader.close()


async def test_two_nodes_share_the_work_and_each_task_runs_once(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    # The first four tasks hold their worker until four run at once: with two
    # workers per node, that needs both nodes.
    running = 0
    all_in = asyncio.Event()

    async def rendezvous() -> None:
        nonlocal running
        running += 1
        if running >= 4:
            all_in.set()
        await all_in.wait()

    finished: list[tuple[uuid.UUID, TaskStatus]] = []
    all_done = asyncio.Event()

    def on_finish(task: Any, status: TaskStatus, result: Any, error: BaseException | None) -> None:
        finished.append((task.id, status))
        if len(finished) == 24:
            all_done.set()

    hooks = TaskHooks(on_finish=on_finish)
    options: dict[str, Any] = {"max_workers": 2, "durable_batch_size": 2, "hooks": hooks}
    one = node(managers, prefix, runs.registry("one", gate=rendezvous), **options)
    two = node(managers, prefix, runs.registry("two", gate=rendezvous), **options)
    await one.start()
    await two.start()
    held = await one.register_durable_tasks([work(n) for n in range(4)])
    await within(all_in.wait(), BOUND)
    rest = await two.register_durable_tasks([work(n) for n in range(4, 24)])
    await within(all_done.wait(), BOUND)
    assert sorted(finished) == sorted((task_id, TaskStatus.COMPLETED) for task_id in held + rest)
    per_task = Counter(task_id for _, task_id, _ in runs.runs)
    assert set(per_task) == set(held + rest)
    assert max(per_task.values()) == 1  # each task ran once
    assert {name for name, task_id, _ in runs.runs if task_id in held} == {"one", "two"}


async def test_an_enqueue_wakes_an_idle_manager(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    tm = node(managers, prefix, runs.registry("one"), durable_poll_interval=30)
    await tm.start()
    stream = tm.subscribe_results()
    await tm.register_durable_task(work(1))
    await collect(stream, 1)  # the manager is now idle, blocked on the wake list
    producer = RedisDurableBackend(new_redis_client(URL), prefix=prefix, close_client=True)
    try:
        late = work(2)
        await producer.enqueue(DurableTask(handler="work", payload=JsonDurableCodec().encode({"n": 2}), id=late.id))
    finally:
        await producer.close()
    # Well within the 30 s poll interval: only the wake-up can explain it.
    (result,) = await collect(stream, 1)
    assert (result.task.id, result.result) == (late.id, 4)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def test_redis_down_at_enqueue_raises_and_writes_nothing(prefix: str, managers: Nodes) -> None:
    runs = Runs()
    down = node(managers, prefix, runs.registry("one"), url=f"redis://{HOST}:{closed_port()}/0")
    with pytest.raises(BackendUnavailableError):
        await down.register_durable_task(work(1))
    with pytest.raises(BackendUnavailableError):
        await down.register_durable_tasks([work(2), work(3)])
    reader = await inspect(prefix)
    try:
        stats = await reader.stats()
        assert (stats.total_ready, stats.total_delayed, stats.dead) == (0, 0, 0)
    finally:
        await reader.close()
    client = redis.asyncio.Redis(host=HOST, port=PORT)
    try:
        # stats() itself writes nothing, so no key of the prefix exists at all.
        assert [key async for key in client.scan_iter(match=RedisKeys(prefix).pattern)] == []
    finally:
        await client.aclose()
