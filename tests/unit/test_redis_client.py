"""The Redis client the durable adapters receive: URL check, ADR 0008 settings, life cycle."""

from __future__ import annotations

import contextlib

import pytest
import redis.asyncio
from dependency_injector import providers
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pyworker.adapters.redis.client import new_redis_client, redis_client, validate_redis_url
from pyworker.adapters.redis.connection import (
    HiredisPackingConnection,
    HiredisPackingSSLConnection,
    HiredisPackingUnixConnection,
)
from pyworker.domain import ConfigurationError

SHARED_URL = "redis://127.0.0.1:6379/0"
#: A missing server must show at once, not after redis-py's retries.
NO_RETRY = Retry(NoBackoff(), 0)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://user:pw@cache.internal:6380/2", "unix:///run/redis.sock?db=1"]
)
def test_a_redis_url_is_accepted_as_given(url: str) -> None:
    assert validate_redis_url(url) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:6379", "'http://127.0.0.1:6379': expected redis://, rediss:// or unix://"),
        ("127.0.0.1:6379", "expected redis://"),
        ("", "expected redis://"),
        ("redis://127.0.0.1:port/0", "Port could not be cast"),
        ("redis://:hunter2@127.0.0.1:x/0", "'redis://:***@127.0.0.1:x/0'"),
        ("redis://127.0.0.1/0?socket_timeout=soon", "socket_timeout"),
    ],
)
def test_anything_else_is_a_one_line_configuration_error(url: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_redis_url(url)
    message = str(caught.value)
    assert shown in message
    assert "\n" not in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("url", "connection_class"),
    [
        ("redis://127.0.0.1:6379/0", HiredisPackingConnection),
        ("rediss://127.0.0.1:6380/0", HiredisPackingSSLConnection),
        ("unix:///run/redis.sock", HiredisPackingUnixConnection),
    ],
)
async def test_every_scheme_packs_with_hiredis(url: str, connection_class: type[object]) -> None:
    client = new_redis_client(url)
    try:
        # Building the connection is where a Unix socket would refuse a TCP-only option.
        connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        assert type(connection) is connection_class
        settings = client.connection_pool.connection_kwargs
        assert (settings["socket_timeout"], settings["socket_connect_timeout"]) == (None, 5.0)
        assert settings["health_check_interval"] == 30
    finally:
        await client.aclose()


async def test_settings_override_the_defaults_and_the_url_query_wins() -> None:
    client = new_redis_client("redis://127.0.0.1:6379/3?socket_timeout=2", socket_timeout=9, max_connections=7)
    try:
        pool = client.connection_pool
        assert (pool.connection_kwargs["socket_timeout"], pool.connection_kwargs["db"]) == (2.0, 3)
        assert pool.max_connections == 7
    finally:
        await client.aclose()


async def test_a_bad_url_is_refused_before_any_client_exists() -> None:
    with pytest.raises(ConfigurationError):
        new_redis_client("memcached://127.0.0.1:11211")


@pytest.mark.redis
async def test_redis_client_yields_a_client_and_closes_it() -> None:
    async with contextlib.asynccontextmanager(redis_client)(SHARED_URL, retry=NO_RETRY) as client:
        try:
            assert await client.ping() is True
        except redis.ConnectionError:
            pytest.skip(f"no Redis server at {SHARED_URL}")
        [connection] = client.connection_pool._available_connections  # redis-py has no public view
        assert connection.is_connected
    assert not connection.is_connected


async def test_redis_client_is_a_dependency_injector_resource() -> None:
    resource = providers.Resource(redis_client, "redis://127.0.0.1:6379/5")
    started = resource.init()
    assert started is not None
    client = await started
    assert isinstance(client, redis.asyncio.Redis)
    assert client.connection_pool.connection_kwargs["db"] == 5
    stopped = resource.shutdown()
    assert stopped is not None
    await stopped
    assert not resource.initialized
