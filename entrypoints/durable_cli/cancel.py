"""`workerctl durable cancel`: cancel one durable task from any machine (docs/cluster.md#cancellation)."""

from __future__ import annotations

import uuid

import click

from pyworker.application.ports import DurableBackend
from pyworker.domain import DEFAULT_CANCEL_REASON, CancelOutcome, DurableTaskRecord, cancel_text
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.control import APPLY


def _state(record: DurableTaskRecord) -> str:
    return "cancelled" if record.cancelled else record.state.value


@click.command()
@click.option("--id", "task_id", default="", help="The task id (required).")
@click.option("--reason", default=DEFAULT_CANCEL_REASON, show_default=True, help="Recorded in the task's last_error.")
@APPLY
@connection_options
@click.pass_obj
def cancel(container: Application, connection: Connection, task_id: str, reason: str, apply: bool) -> None:
    """Cancel a task: a waiting one is dead-lettered as cancelled at once, a leased one's
    node is told and finishes it Cancelled (never retried).
    """
    if not task_id.strip():
        raise click.UsageError("--id is required")
    try:
        wanted = uuid.UUID(task_id.strip())
    except ValueError as exc:
        raise click.UsageError(f"parse task id: invalid UUID {task_id.strip()!r}") from exc

    async def action(backend: DurableBackend) -> tuple[DurableTaskRecord, CancelOutcome | None]:
        record = await backend.get(wanted)  # TaskNotFoundError: exit 1
        return record, await backend.cancel(wanted, reason.strip()) if apply else None

    record, outcome = run_backend(container, connection, action)
    state = _state(record)
    if outcome is None:
        click.echo(f"dry-run: use --apply to cancel task {wanted} ({state})")
    elif outcome is CancelOutcome.WITHDRAWN:
        click.echo(f"cancelled task {wanted}: it was {state}; dead-lettered with {cancel_text(reason.strip())!r}")
    elif outcome is CancelOutcome.FLAGGED:
        click.echo(f"cancel requested for task {wanted}: it is leased; its node is told and dead-letters it")
    else:
        click.echo(f"task {wanted} is {state} already: nothing to cancel")
