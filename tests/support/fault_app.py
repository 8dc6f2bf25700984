"""A durable app for the fault tests: its handler records every run in Redis."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import redis.asyncio as aioredis

from pyworker.application import TypedDurableRegistry
from pyworker.domain import TaskContext

registry = TypedDurableRegistry()
_client: aioredis.Redis | None = None


def _redis() -> aioredis.Redis:
    global _client
    if _client is None:
        _client = aioredis.Redis.from_url(os.environ["FAULT_REDIS_URL"])
    return _client


async def record(ctx: TaskContext, message: dict[str, Any]) -> str:
    """Record the run: SADD done, INCR runs, LPUSH progress (what the tests block on).

    ``hang_first``: the first delivery announces itself on ``started`` and hangs,
    so a test can kill the node in the middle of the task.
    """
    key = os.environ["FAULT_KEY"]
    client = _redis()
    if message.get("hang_first") and ctx.attempt == 1:
        await client.lpush(f"{key}:started", str(ctx.task_id))
        await asyncio.sleep(3600)
    if message.get("sleep"):
        await asyncio.sleep(float(message["sleep"]))
    async with client.pipeline(transaction=True) as pipe:
        pipe.sadd(f"{key}:done", str(ctx.task_id))
        pipe.incr(f"{key}:runs")
        pipe.lpush(f"{key}:progress", f"{ctx.task_id}:{ctx.attempt}:{os.getpid()}")
        await pipe.execute()
    return "ok"


registry.add("record", dict, record)
