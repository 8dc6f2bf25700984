"""The pause commands of `workerctl durable`: pause and resume dequeue, dry-run unless --apply."""

from __future__ import annotations

import click

from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run

APPLY = click.option("--apply", is_flag=True, help="Make the change (without it: a dry run saying what would change).")


def _pause_command(action: str) -> click.Command:
    @click.command(action)
    @click.option("--queue", default="", help=f"{action.capitalize()} one queue (default: every queue).")
    @APPLY
    @connection_options
    @click.pass_obj
    def command(container: Application, connection: Connection, queue: str, apply: bool) -> None:
        target = f" for queue={queue.strip()}" if queue.strip() else ""
        if not apply:
            click.echo(f"dry-run: use --apply to {action} durable dequeue{target}")
            return
        name = queue.strip() or None
        run(container, connection, lambda admin: admin.pause(name) if action == "pause" else admin.resume(name))
        click.echo(f"durable dequeue {action}d{target}")

    command.help = (
        "Stop workers from leasing tasks (enqueue goes on)." if action == "pause" else "Let workers lease tasks again."
    )
    return command


pause = _pause_command("pause")
resume = _pause_command("resume")
