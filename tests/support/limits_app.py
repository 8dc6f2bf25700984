"""A durable app for the limit tests: its handler records its start time and the overlap of runs in Redis."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import redis.asyncio as aioredis

from pyworker.application import TypedDurableRegistry
from pyworker.domain import TaskContext

registry = TypedDurableRegistry()
_client: aioredis.Redis | None = None

#: INCR the running gauge and keep its maximum, in one step.
_ENTER = """
local running = redis.call('INCR', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], running) end
return running
"""


def _redis() -> aioredis.Redis:
    global _client
    if _client is None:
        _client = aioredis.Redis.from_url(os.environ["LIMITS_REDIS_URL"])
    return _client


async def probe(ctx: TaskContext, message: dict[str, Any]) -> str:
    """RPUSH the start time (epoch s) on ``<key>:starts``; hold the ``<key>:running`` gauge
    (its peak in ``<key>:peak``) for ``sleep`` seconds; INCR ``<key>:done`` at the end.
    """
    key = os.environ["LIMITS_KEY"]
    client = _redis()
    started = time.time()
    await client.eval(_ENTER, 2, f"{key}:running", f"{key}:peak")
    await client.rpush(f"{key}:starts", f"{started!r} {ctx.task_id} {ctx.attempt} {os.getpid()}")
    try:
        await asyncio.sleep(float(message.get("sleep", 0)))
    finally:
        await client.decr(f"{key}:running")
    await client.incr(f"{key}:done")
    return "ok"


registry.add("probe", dict, probe)
