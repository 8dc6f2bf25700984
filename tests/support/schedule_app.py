"""A durable app with one schedule every second, for the multi-node schedule tests.

Its handler records each run in Redis (``SCHED_KEY``): HINCRBY ``<key>:runs`` by tick.
``workerctl worker --app tests.support.schedule_app:registry --schedules tests.support.schedule_app:schedules``.
"""

from __future__ import annotations

import os
from typing import Any

import redis.asyncio as aioredis

from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.application.schedules import Tick
from pyworker.domain import DurableTask, TaskContext
from pyworker.domain.schedule import MisfirePolicy

registry = TypedDurableRegistry()
_client: aioredis.Redis | None = None


async def tick(ctx: TaskContext, message: dict[str, Any]) -> str:
    global _client
    if _client is None:
        _client = aioredis.Redis.from_url(os.environ["SCHED_REDIS_URL"])
    await _client.hincrby(f"{os.environ['SCHED_KEY']}:runs", str(message["tick_ms"]), 1)
    return "ok"


registry.add("tick", dict, tick)


def every_second(at: Tick) -> DurableTask:
    assert at.at is not None
    return DurableTask(handler="tick", message={"tick_ms": round(at.at * 1000)})


def schedules(manager: TaskManager) -> None:
    # "all": a node stalled past a tick (two CPUs shared by three nodes) still fires it.
    manager.register_durable_cron_task(
        "every-second", "* * * * * *", every_second, misfire=MisfirePolicy("all", limit=30), history=1000
    )


def bad_spec(manager: TaskManager) -> None:
    """For the CLI tests: a spec that does not parse."""
    manager.register_durable_cron_task("broken", "every now and then", every_second)


NOT_CALLABLE = 42
