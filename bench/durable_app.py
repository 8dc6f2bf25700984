"""The bench app for `workerctl worker --app durable_app:registry` (bench/durable.py starts it).

Two durable handlers, both taking an empty JSON object:

- ``noop``: the no-op job plus the completion probe shared with the baselines:
  one ``INCR`` of the counter key per task; the run that brings the counter to
  ``DURABLE_BENCH_N`` also ``LPUSH``es a marker on the done key, which the
  benchmark ``BLPOP``s.
- ``echo``: ``LPUSH``es a marker on the reply key (idle pickup latency).

Environment: ``DURABLE_BENCH_REDIS_URL``, ``DURABLE_BENCH_KEY`` (probe key prefix:
``<key>:count``, ``<key>:done``, ``<key>:reply``), ``DURABLE_BENCH_N``.
``DURABLE_BENCH_PROBE_MODE=sync`` makes ``noop`` probe with synchronous redis-py,
the baselines' exact code (blocking the event loop for that round trip); ``bare``
makes it do nothing at all. With
``DURABLE_BENCH_PROFILE=<file>`` the worker's event-loop thread runs under
cProfile from import to exit and dumps its stats to ``<file>``.
"""

from __future__ import annotations

import atexit
import cProfile
import os
from typing import Any

import redis
import redis.asyncio as aioredis

from pyworker.application import TypedDurableRegistry
from pyworker.domain import TaskContext

registry = TypedDurableRegistry()

_URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
_KEY = os.environ.get("DURABLE_BENCH_KEY", "pyworker-bench")
_COUNT = f"{_KEY}:count"
_DONE = f"{_KEY}:done"
_REPLY = f"{_KEY}:reply"
_MODE = os.environ.get("DURABLE_BENCH_PROBE_MODE", "async")  # async | sync | bare
_client: aioredis.Redis | None = None
_sync_client: redis.Redis | None = None


def _redis() -> aioredis.Redis:
    global _client
    if _client is None:
        # The probe's own client: no per-read timeout (redis-py 8's default 5 s timeout adds
        # ~30 µs per command in redis.asyncio) and room for any --concurrency (default pool: 100).
        _client = aioredis.Redis.from_url(_URL, socket_timeout=None, max_connections=4096)
    return _client


_N = int(os.environ.get("DURABLE_BENCH_N", "0"))


def _sync_redis() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(_URL)
    return _sync_client


async def noop(ctx: TaskContext, message: dict[str, Any]) -> None:
    """The no-op job and the probe: INCR the counter; the N-th run signals done."""
    if _MODE == "bare":
        return
    if _MODE == "sync":  # the baselines' exact probe code (blocks the event loop for one round trip)
        sync_client = _sync_redis()
        if sync_client.incr(_COUNT) == _N:
            sync_client.lpush(_DONE, b"1")
        return
    client = _redis()
    if await client.incr(_COUNT) == _N:
        await client.lpush(_DONE, b"1")


async def echo(ctx: TaskContext, message: dict[str, Any]) -> None:
    """Reply at once (the producer BLPOPs the reply key)."""
    await _redis().lpush(_REPLY, b"1")


registry.add("noop", dict, noop)
registry.add("echo", dict, echo)


def _start_profile(path: str) -> None:
    profile = cProfile.Profile()

    def dump() -> None:
        profile.disable()
        profile.dump_stats(path)

    atexit.register(dump)
    profile.enable()


if os.environ.get("DURABLE_BENCH_PROFILE"):
    _start_profile(os.environ["DURABLE_BENCH_PROFILE"])
