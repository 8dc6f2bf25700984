"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from pyworker.adapters.redis import RedisKeys
from pyworker.adapters.redis.keys import global_rate_key

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of the test's own on the shared Redis; its keys are deleted afterwards
    (never FLUSHALL: other tests and benchmarks share the server). Skips without Redis.
    """
    client = redis.Redis.from_url(SHARED_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.ConnectionError, OSError):
        client.close()
        pytest.skip("no Redis server on 127.0.0.1:6379")
    name = f"pyworker-test-{uuid.uuid4().hex}"
    yield name
    try:
        keys = list(client.scan_iter(match=RedisKeys(name).pattern, count=1000))
        keys.append(global_rate_key(name, cluster=False).encode())  # go-worker's name: outside the braces
        client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """For the tests that run real worker processes: a unique backend prefix and a probe key
    beside it (the processes' handlers record there); deletes only those keys afterwards,
    braced (the store's) and unbraced (the probe, go-worker's rate bucket).
    """
    prefix = f"pyworker-proc-{uuid.uuid4().hex}"
    yield prefix, f"{prefix}:probe"
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    try:
        for pattern in (f"{{{prefix}}}*", f"{prefix}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()
