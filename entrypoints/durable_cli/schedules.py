"""`workerctl durable schedules`: the pause state and history durable schedules share in Redis (docs/cluster.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from pyworker.application.ports import DurableBackend
from pyworker.application.schedules import ScheduleAdmin, ScheduleStoreProvider
from pyworker.domain.schedule import check_name
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.render import json_line, rfc3339
from pyworker.entrypoints.errors import EXIT_USAGE, CliError

T = TypeVar("T")
APPLY = click.option("--apply", is_flag=True, help="Make the change (without it: a dry run saying what would change).")


def on_store(container: Application, connection: Connection, action: Callable[[ScheduleAdmin], Awaitable[T]]) -> T:
    """Run ``action(admin)`` over the backend's ScheduleStore within ``connection.timeout``."""

    def with_store(backend: DurableBackend) -> Awaitable[T]:
        assert isinstance(backend, ScheduleStoreProvider)  # the Redis backend always is one
        return action(ScheduleAdmin(backend.schedule_store()))

    return run_backend(container, connection, with_store)


def schedule_name(name: str | None) -> str | None:
    """The name checked before connecting (ScheduleAdmin checks it too): one line and exit 2."""
    if name is None:
        return None
    try:
        return check_name(name)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


@click.group()
def schedules() -> None:
    """Durable schedules (cron): pause, resume and history, shared by every node."""


def _pause_command(action: str) -> click.Command:
    @click.command(action)
    @click.argument("name", required=False)
    @APPLY
    @connection_options
    @click.pass_obj
    def command(container: Application, connection: Connection, name: str | None, apply: bool) -> None:
        checked = schedule_name(name)
        target = f"schedule {checked}" if checked else "every schedule"
        if not apply:
            click.echo(f"dry-run: use --apply to {action} {target}")
            return
        pausing = action == "pause"
        on_store(container, connection, lambda admin: admin.pause(checked) if pausing else admin.resume(checked))
        click.echo(f"{target} {action}d")

    command.help = (
        "Stop one schedule (NAME) or all from firing on every node; running nodes see it at their next tick."
        if action == "pause"
        else "Let one schedule (NAME) or all fire again; the ticks that passed while paused do not fire."
    )
    return command


schedules.add_command(_pause_command("pause"))
schedules.add_command(_pause_command("resume"))


@schedules.command()
@connection_options
@click.pass_obj
def paused(container: Application, connection: Connection) -> None:
    """Whether every schedule is paused (paused=true|false), then each schedule paused by name."""
    every, names = on_store(container, connection, lambda admin: admin.paused())
    click.echo(f"paused={'true' if every else 'false'}")
    for name in names:
        click.echo(f"schedule={name} paused=true")


@schedules.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Fires shown, newest first.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
@connection_options
@click.pass_obj
def history(container: Application, connection: Connection, name: str, limit: int, as_json: bool) -> None:
    """The latest fires of schedule NAME, newest first: tick, outcome, task id, when (as any node recorded them)."""
    checked = schedule_name(name)
    assert checked is not None
    records = on_store(container, connection, lambda admin: admin.history(checked, limit))
    for record in records:
        fields = {
            "tick": rfc3339(record.tick) if record.tick is not None else "run-now",
            "outcome": record.outcome.value,
            "task": str(record.task_id) if record.task_id else "-",
            "at": rfc3339(record.at),
        }
        click.echo(json_line({"schedule": record.name, **fields}) if as_json
                   else " ".join(f"{k}={v}" for k, v in fields.items()))  # fmt: skip
    if not records:
        click.echo(f"no fires recorded for schedule {checked}", err=True)
