"""`workerctl durable enqueue`: store one task from raw payload bytes (dry-run unless --apply)."""

from __future__ import annotations

from collections.abc import Sequence

import click

import pyworker.entrypoints.durable_cli.payload as rules
from pyworker.application.admin import DurableAdmin
from pyworker.domain import DurableTask
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.control import APPLY
from pyworker.entrypoints.durations import DURATION


@click.command()
@click.option("--id", "task_id", default=None, help="Task id (UUID; default: a random one).")
@click.option("--handler", default="", help="The durable handler's name (required).")
@click.option("--queue", default="", help="Queue (default: --default-queue).")
@click.option("--default-queue", default="default", show_default=True)
@click.option("--payload", default=None, help="Payload as inline JSON (stored byte for byte).")
@click.option("--payload-file", default=None, metavar="PATH",
              help="Payload file, JSON or YAML (by extension); - is stdin.")
@click.option("--payload-b64", default=None, help="Payload bytes in standard base64.")
@click.option("--payload-b64-file", default=None, metavar="PATH", help="File of base64 payload bytes; - is stdin.")
@click.option("--payload-format", default=None, metavar="json|yaml", help="Format of --payload/--payload-file.")
@click.option("--priority", type=int, default=1, show_default=True, help="Lower runs first.")
@click.option("--weight", type=click.IntRange(min=0), default=0, show_default=True, help="Higher wins a tie.")
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--retry-delay", type=DURATION, default="0", show_default=True)
@click.option("--delay", type=DURATION, default="0", show_default=True, help="Run no earlier than now + delay.")
@click.option("--run-at", default=None, metavar="RFC3339", help="Run no earlier than this time.")
@click.option("--meta", multiple=True, metavar="K=V", help="Metadata entry (repeatable).")
@APPLY
@connection_options
@click.pass_obj
def enqueue(
    container: Application,
    connection: Connection,
    task_id: str | None,
    handler: str,
    queue: str,
    default_queue: str,
    payload: str | None,
    payload_file: str | None,
    payload_b64: str | None,
    payload_b64_file: str | None,
    payload_format: str | None,
    priority: int,
    weight: int,
    retries: int,
    retry_delay: float,
    delay: float,
    run_at: str | None,
    meta: Sequence[str],
    apply: bool,
) -> None:
    """Enqueue one durable task. The bytes must be what the workers' codec reads (JSON needs --codec json)."""
    if not handler.strip():
        raise click.UsageError("handler is required")
    data = rules.payload_bytes(payload, payload_file, payload_b64, payload_b64_file, payload_format)
    task = DurableTask(
        handler=handler.strip(),
        payload=data,
        id=rules.task_id(task_id),
        priority=priority,
        run_at=rules.run_at(run_at, delay, container.core.clock().now()),
        queue=queue.strip() or default_queue.strip() or "default",
        weight=weight,
        retries=retries,
        retry_delay=retry_delay,
        metadata=rules.metadata(meta),
    )
    if not apply:
        click.echo(f"dry-run: use --apply to enqueue task {task.id}")
        return
    stored = run_backend(container, connection, lambda backend: DurableAdmin(backend, backend).enqueue(task))
    click.echo(f"enqueued durable task id={stored}")
