"""Example app with a durable schedule: `workerctl worker --app reports:registry --schedules reports:schedules`.

Start it on every node: each node fires the nightly report's ticks, and the store lets one
task through per tick (docs/cluster.md#schedules).
"""

from __future__ import annotations

from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.application.schedules import Tick
from pyworker.domain import DurableTask, TaskContext
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload

registry = TypedDurableRegistry()


@registry.handler("send_report", SendEmailPayload)
async def send_report(ctx: TaskContext, message: SendEmailPayload) -> str:
    """Pretend to mail a report. At-least-once, as every durable task: key side effects on ctx.task_id."""
    print(f"send_report {ctx.task_id} attempt={ctx.attempt} to={message.to}", flush=True)
    return f"report sent to {message.to}"


def nightly(tick: Tick) -> DurableTask:
    return DurableTask(handler="send_report", message=SendEmailPayload(to="ops@example.com"), queue="reports")


def schedules(manager: TaskManager) -> None:
    """What `--schedules reports:schedules` calls before the node starts."""
    manager.register_durable_cron_task("nightly-report", "0 2 * * *", nightly, timezone="Europe/Paris", misfire="once")
