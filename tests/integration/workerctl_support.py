"""Shared setup for the `workerctl durable` tests: a unique prefix on the real Redis, seeding, running the CLI."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import pytest
import redis

from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, new_redis_client
from pyworker.entrypoints.cli import main

T = TypeVar("T")

HOST, PORT = "127.0.0.1", 6379
URL = f"redis://{HOST}:{PORT}/0"


@attrs.frozen
class Outcome:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@attrs.frozen
class Store:
    """The prefix a test owns, and ways to seed and read it directly (not through the CLI)."""

    prefix: str
    capsys: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> Outcome:
        """``workerctl durable <argv> --redis-url URL --redis-prefix <prefix>``."""
        self.capsys.readouterr()
        code = main(["durable", *argv, "--redis-url", URL, "--redis-prefix", self.prefix])
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def backend(self, action: Callable[[RedisDurableBackend], Awaitable[T]]) -> T:
        """Run ``action`` on a backend over this prefix (its own client, closed afterwards)."""

        async def go() -> T:
            client = new_redis_client(URL)
            backend = RedisDurableBackend(client, prefix=self.prefix)
            try:
                return await action(backend)
            finally:
                await backend.close()
                await client.aclose()

        return asyncio.run(go())


def unique_store(capsys: pytest.CaptureFixture[str], label: str) -> Iterator[Store]:
    """A Store on a fresh prefix; only its keys are deleted afterwards. Skips without Redis."""
    probe = redis.Redis(host=HOST, port=PORT)
    try:
        probe.ping()
    except (redis.ConnectionError, OSError):
        probe.close()
        pytest.skip(f"no Redis server on {HOST}:{PORT}")
    prefix = f"pyworker-{label}-{uuid.uuid4().hex}"
    try:
        yield Store(prefix, capsys)
    finally:
        keys = list(probe.scan_iter(match=RedisKeys(prefix).pattern, count=1000))
        if keys:
            probe.delete(*keys)
        probe.close()


def ids(lines: Sequence[dict[str, Any]]) -> list[str]:
    return [line["id"] for line in lines]
