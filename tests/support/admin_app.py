"""A durable app for the admin page's tests: one handler and one nightly schedule.

``workerctl admin --app tests.support.admin_app:registry --schedules tests.support.admin_app:schedules
--codec json``
lists ``nightly-report`` and runs it now (the admin process only enqueues; a worker would run it).
"""

from __future__ import annotations

import json
from typing import Any

from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.application.schedules import Tick
from pyworker.domain import DurableTask, TaskContext

registry = TypedDurableRegistry()


async def report(_ctx: TaskContext, message: dict[str, Any]) -> str:
    return f"report for {message.get('tick')}"


registry.add("report", dict, report)


def nightly(at: Tick) -> DurableTask:
    return DurableTask(handler="report", payload=json.dumps({"tick": at.at}).encode(), queue="reports")


def schedules(manager: TaskManager) -> None:
    manager.register_durable_cron_task("nightly-report", "0 3 * * *", nightly)
