"""`workerctl durable audit`: the admin plane's audit log, listed or exported (JSONL, CSV; docs/grpc.md)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from pyworker.adapters.redis.admin import rfc3339
from pyworker.application.admin import DEFAULT_AUDIT_LIMIT, AdminStoreProvider
from pyworker.application.ports import DurableBackend
from pyworker.domain.admin import AuditEvent
from pyworker.domain.duration import to_ms
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.render import rfc3339 as seconds
from pyworker.entrypoints.errors import EXIT_USAGE, CliError

#: Events an export reads by default (the Redis log's default capacity).
EXPORT_LIMIT = 10_000
#: go-worker's CSV columns (``at`` in epoch milliseconds).
CSV_COLUMNS = ("at", "actor", "request_id", "action", "target", "status", "payload_hash", "detail")


def event_json(event: AuditEvent) -> dict[str, Any]:
    """One event as a JSON line: the Redis record's keys, ``at`` in RFC 3339 UTC."""
    line: dict[str, Any] = {
        "at": rfc3339(event.at), "actor": event.actor, "request_id": event.request_id, "action": event.action,
        "target": event.target, "status": event.status, "payload_hash": event.payload_hash, "detail": event.detail,
    }  # fmt: skip
    if event.metadata:
        line["metadata"] = dict(event.metadata)
    return line


def read_events(
    container: Application, connection: Connection, action: str, target: str, limit: int
) -> list[AuditEvent]:
    async def events(backend: DurableBackend) -> list[AuditEvent]:
        assert isinstance(backend, AdminStoreProvider)  # the Redis backend always is one
        return await backend.audit_log().events(action=action.strip(), target=target.strip(), limit=limit)

    return run_backend(container, connection, events)


def jsonl(events: list[AuditEvent]) -> str:
    return "".join(json.dumps(event_json(e), separators=(",", ":")) + "\n" for e in events)


def csv_text(events: list[AuditEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow([to_ms(e.at), e.actor, e.request_id, e.action, e.target, e.status, e.payload_hash, e.detail])
    return out.getvalue()


FILTERS = [
    click.option("--action", default="", help="Only this action (exact: queue.pause, dlq.replay, ...)."),
    click.option("--target", default="", help="Only this target (exact: a queue or schedule name, or *)."),
]


def filters(command: Any) -> Any:
    for option in reversed(FILTERS):
        command = option(command)
    return command


@click.group()
def audit() -> None:
    """The admin audit log: who did what, when, with which outcome (newest first)."""


@audit.command("list")
@filters
@click.option("--limit", type=click.IntRange(min=1), default=DEFAULT_AUDIT_LIMIT, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event instead of a table.")
@connection_options
@click.pass_obj
def list_events(container: Application, connection: Connection, action: str, target: str, limit: int,
                as_json: bool) -> None:  # fmt: skip
    """The latest admin actions."""
    found = read_events(container, connection, action, target, limit)
    if as_json:
        click.echo(jsonl(found), nl=False)
        return
    click.echo(f"audit events: {len(found)}")
    for e in found:
        click.echo(f"{seconds(e.at)}  {e.actor}  {e.action} {e.target}  {e.status}  {e.detail}")


@audit.command("export")
@filters
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=EXPORT_LIMIT, show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file (default: standard output).")
@connection_options
@click.pass_obj
def export(container: Application, connection: Connection, action: str, target: str, fmt: str, limit: int,
           output: str | None) -> None:  # fmt: skip
    """Every kept event (newest first) as JSON lines or CSV (go-worker's columns, ``at`` in epoch ms)."""
    found = read_events(container, connection, action, target, limit)
    text = jsonl(found) if fmt == "jsonl" else csv_text(found)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8", newline="") as file:
            file.write(text)
    except OSError as exc:
        raise CliError(f"--output {output}: {exc.strerror}", EXIT_USAGE) from exc
    click.echo(f"exported {len(found)} events to {output}", err=True)
