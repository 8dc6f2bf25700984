"""The container: each Selector branch, a provider override, config values from slices, resource shutdown."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
from dependency_injector import providers

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import JsonDurableCodec, ProtoDurableCodec
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys
from pyworker.application import TypedDurableRegistry
from pyworker.application.config import DurableConfig, ManagerConfig
from pyworker.domain import ConfigurationError, DurableTask, TaskContext
from pyworker.entrypoints.container import (
    Application,
    build_container,
    new_task_manager,
    open_task_manager,
    shutdown,
    task_manager_scope,
)
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX, BackendConfig

SHARED_URL = "redis://127.0.0.1:6379/0"


async def noop(ctx: TaskContext, message: dict[str, Any]) -> None:
    return None


registry = TypedDurableRegistry()
registry.add("noop", dict, noop)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def memory_container(clock: ManualClock) -> AsyncIterator[Application]:
    """A memory-backend container with the clock overridden for this test only."""
    container = build_container(backend={"kind": "memory", "codec": "json"}, durable_handlers=registry)
    container.core.clock.override(providers.Object(clock))
    yield container
    await shutdown(container)
    container.core.clock.reset_override()


@pytest.fixture
def redis_names() -> Iterator[tuple[str, str]]:
    """A prefix and a client name of this test's own; deletes only this prefix's keys afterwards."""
    prefix = f"pyworker-container-{uuid.uuid4().hex}"
    yield prefix, f"{prefix}-client"
    import redis as sync_redis

    client = sync_redis.Redis.from_url(SHARED_URL)
    try:
        client.ping()
        keys = list(client.scan_iter(match=RedisKeys(prefix).pattern, count=1000))
        if keys:
            client.delete(*keys)
    except sync_redis.ConnectionError:
        pass
    finally:
        client.close()


async def _clients_named(name: str) -> int:
    probe = redis.asyncio.Redis.from_url(SHARED_URL)
    try:
        clients = await probe.client_list()
    finally:
        await probe.aclose()
    return sum(1 for entry in clients if entry.get("name") == name)


async def _redis_up() -> bool:
    probe = redis.asyncio.Redis.from_url(SHARED_URL)
    try:
        return bool(await asyncio.wait_for(probe.ping(), 5))
    except (redis.ConnectionError, OSError, TimeoutError):
        return False
    finally:
        await probe.aclose()


# -- Selector branches --------------------------------------------------------------------------


async def test_backend_none_builds_an_in_process_manager() -> None:
    container = build_container()
    try:
        assert await container.backends.durable_backend() is None
        manager = await container.services.task_manager()
        assert not manager.durable
    finally:
        await shutdown(container)


async def test_backend_memory_builds_a_durable_manager(memory_container: Application) -> None:
    backend = await memory_container.backends.durable_backend()
    manager = await memory_container.services.task_manager()
    assert isinstance(backend, InMemoryDurableBackend)
    assert manager.durable
    assert await memory_container.backends.durable_backend() is backend  # one backend per container


async def test_backend_redis_runs_on_the_containers_client() -> None:
    container = build_container(backend={"kind": "redis", "redis_url": SHARED_URL, "redis_prefix": "unused"})
    try:
        backend = await container.backends.durable_backend()  # builds, does not connect
        manager = await container.services.task_manager()
        assert isinstance(backend, RedisDurableBackend)
        assert isinstance(await container.backends.redis_client(), redis.asyncio.Redis)
        assert manager.durable
    finally:
        await shutdown(container)


@pytest.mark.parametrize(("codec", "codec_type"), [("proto", ProtoDurableCodec), ("json", JsonDurableCodec)])
def test_codec_selector(codec: str, codec_type: type[object]) -> None:
    container = build_container(backend={"codec": codec})
    assert isinstance(container.backends.codec(), codec_type)


def test_codec_defaults_to_proto() -> None:
    assert isinstance(build_container().backends.codec(), ProtoDurableCodec)


# -- async mode, override, config values ----------------------------------------------------------


async def test_the_manager_provider_is_awaited_whatever_the_backend() -> None:
    container = build_container()  # backend none: nothing async, still an awaitable
    pending = container.services.task_manager()
    assert inspect.isawaitable(pending)
    await pending
    await shutdown(container)


async def test_overridden_clock_reaches_the_manager_and_the_backend(
    memory_container: Application, clock: ManualClock
) -> None:
    manager = await memory_container.services.task_manager()
    backend = await memory_container.backends.durable_backend()
    assert manager.clock is clock
    await manager.register_durable_task_after(DurableTask(handler="noop", message={}), 10)
    assert await backend.dequeue(1, lease=30) == []
    clock.advance(10)  # only the overriding ManualClock makes the task due without waiting 10 s
    assert len(await backend.dequeue(1, lease=30)) == 1


async def test_defaults_come_from_the_config_classes() -> None:
    container = build_container()
    manager = await container.services.task_manager()
    assert manager.config == ManagerConfig()
    assert manager.durable_config == DurableConfig()
    assert container.backends.settings() == BackendConfig()
    assert BackendConfig().redis_prefix == DEFAULT_REDIS_PREFIX
    await shutdown(container)


async def test_slices_become_frozen_config_values() -> None:
    container = build_container(
        manager={"max_workers": 3, "timeout": 7},
        durable={"lease": 12, "batch_size": 4, "connect_timeout": 2.5},
        backend={"kind": "memory"},
    )
    manager = await container.services.task_manager()
    assert manager.config == ManagerConfig(max_workers=3, timeout=7)
    assert manager.durable_config == DurableConfig(lease=12, batch_size=4, connect_timeout=2.5)
    assert container.services.manager_config() is manager.config  # built once
    await shutdown(container)


async def test_open_task_manager_maps_keyword_options() -> None:
    async with open_task_manager(
        max_workers=2, durable_lease=5, durable_connect_timeout=3, backend="memory", codec="json"
    ) as manager:
        assert manager.config.max_workers == 2
        assert (manager.durable_config.lease, manager.durable_config.connect_timeout) == (5, 3)
        assert manager.durable


def test_new_task_manager_builds_an_in_process_manager() -> None:
    manager = new_task_manager(max_workers=3, tasks_per_second=0)
    assert manager.config == ManagerConfig(max_workers=3, tasks_per_second=0)
    assert not manager.durable


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slices", "named"),
    [
        ({"manager": {"max_wrokers": 1}}, "max_wrokers"),
        ({"durable": {"leas": 1}}, "leas"),
        ({"backend": {"knd": "redis"}}, "knd"),
        ({"backend": {"kind": "sql"}}, "sql"),
        ({"backend": {"codec": "pickle"}}, "pickle"),
        ({"backend": {"redis_url": "http://127.0.0.1/0"}}, "http://127.0.0.1/0"),
    ],
)
def test_bad_settings_raise_configuration_error_naming_them(slices: dict[str, dict[str, Any]], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named) as info:
        build_container(**slices)
    assert not isinstance(info.value, KeyError)


def test_bad_value_is_a_configuration_error_not_a_type_error() -> None:
    with pytest.raises(ConfigurationError, match="manager"):
        build_container(manager={"max_workers": "eight"})


async def test_open_task_manager_names_an_unknown_option() -> None:
    with pytest.raises(ConfigurationError, match="redis_urll"):
        async with open_task_manager(redis_urll=SHARED_URL):
            pass


@pytest.mark.parametrize("option", ["backend", "redis_url", "durable_lease", "durable_handlers"])
def test_new_task_manager_refuses_durable_options(option: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"{option}.*open_task_manager"):
        new_task_manager(**{option: "redis" if option == "backend" else 1})


def test_new_task_manager_names_an_unknown_option() -> None:
    with pytest.raises(ConfigurationError, match="max_wrokers"):
        new_task_manager(max_wrokers=2)


# -- resource shutdown ------------------------------------------------------------------------------


async def test_shutdown_closes_the_memory_backend(clock: ManualClock) -> None:
    container = build_container(backend={"kind": "memory"})
    container.core.clock.override(providers.Object(clock))
    backend = await container.backends.durable_backend()
    waiter = asyncio.create_task(backend.wait_for_work(3600))  # on the ManualClock: only close() ends it
    await shutdown(container)
    await asyncio.wait_for(waiter, 5)


@pytest.mark.redis
async def test_shutdown_closes_the_backend_and_the_redis_client(redis_names: tuple[str, str]) -> None:
    if not await _redis_up():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    prefix, name = redis_names
    url = f"{SHARED_URL}?client_name={name}"
    container = build_container(backend={"kind": "redis", "redis_url": url, "redis_prefix": prefix})
    async with task_manager_scope(container) as manager:
        client = await container.backends.redis_client()
        assert await client.ping()
        stats = await (await container.backends.durable_backend()).stats()
        assert stats.total_ready == 0
        assert manager.durable
        assert await _clients_named(name) >= 1
    assert await _clients_named(name) == 0  # the scope shut the resources down


@pytest.mark.redis
async def test_open_task_manager_closes_its_connections(redis_names: tuple[str, str]) -> None:
    if not await _redis_up():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    prefix, name = redis_names
    url = f"{SHARED_URL}?client_name={name}"
    async with open_task_manager(
        backend="redis", redis_url=url, redis_prefix=prefix, codec="json", durable_handlers=registry
    ) as manager:
        task_id = await manager.register_durable_task(DurableTask(handler="noop", message={}))
        assert await _clients_named(name) >= 1
    assert await _clients_named(name) == 0
    container = build_container(backend={"kind": "redis", "redis_url": SHARED_URL, "redis_prefix": prefix})
    async with task_manager_scope(container):
        record = await (await container.backends.durable_backend()).get(task_id)
    assert record.id == task_id
