"""`workerctl durable snapshot export|import`: every task, byte for byte, as JSON lines; paged both ways."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

import click

from pyworker.application.admin import DurableAdmin
from pyworker.domain import MAX_PAGE_SIZE, DurableState, DurableTaskRecord
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options
from pyworker.entrypoints.durable_cli.control import APPLY
from pyworker.entrypoints.durable_cli.moves import operate
from pyworker.entrypoints.durable_cli.read import first, selected_queues
from pyworker.entrypoints.durable_cli.render import json_line
from pyworker.entrypoints.durable_cli.selection import BATCH, progress
from pyworker.entrypoints.durable_cli.snapshot_format import SnapshotError, from_line, to_line
from pyworker.entrypoints.errors import CliError


@click.group()
def snapshot() -> None:
    """Export tasks to JSON lines and import them back (payload bytes kept exactly)."""


@contextlib.contextmanager
def output(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CliError(f"open {path!r}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


@snapshot.command("export")
@click.option("--out", "out_path", default="-", show_default=True, help="File to write (- is stdout).")
@click.option("--queue", default="", help="Only this queue (default: every queue).")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="Tasks per queue and state at most (0: all).")
@click.option("--ready/--no-ready", default=True, show_default=True, help="Ready tasks.")
@click.option("--delayed", is_flag=True, help="Delayed tasks (waiting for their run time or retry).")
@click.option("--processing", is_flag=True, help="Leased tasks (restored with no holder: back when the lease ends).")
@click.option("--dlq", is_flag=True, help="Dead-letter tasks.")
@connection_options
@click.pass_obj
def export(
    container: Application, connection: Connection, out_path: str, queue: str, limit: int, ready: bool,
    delayed: bool, processing: bool, dlq: bool,
) -> None:
    """Write tasks as JSON lines: ready per queue, then delayed, processing, the DLQ (newest first)."""
    states = [s for s, on in ((DurableState.READY, ready), (DurableState.DELAYED, delayed),
                               (DurableState.PROCESSING, processing)) if on]
    if not (states or dlq):
        states = [DurableState.READY]
    queue = queue.strip()
    page = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE

    async def action(admin: DurableAdmin) -> int:
        async with connection.bound():
            stats = await admin.stats()
        shown = selected_queues(stats, queue)
        total = sum(q.ready * ready + q.delayed * delayed + q.processing * processing for q in shown)
        total += stats.dead if dlq else 0
        written = 0
        with output(out_path) as sink, progress(total, "export") as advance:
            sources: list[tuple[DurableState, str | None]] = [(state, q.queue) for state in states for q in shown]
            if dlq:
                sources.append((DurableState.DEAD, queue or None))
            for state, name in sources:
                async for record in first(admin.iter_tasks(state, name, page_size=page), limit, connection):
                    sink.write(json_line(to_line(record)) + "\n")
                    written += 1
                    advance(1)
        return written

    written = operate(container, connection, action)
    if out_path != "-":
        click.echo(f"exported {written} snapshot item(s) to {out_path}", err=True)


@contextlib.contextmanager
def spooled(path: str) -> Iterator[IO[str]]:
    """The input as a re-readable file (stdin is copied to a temporary file once)."""
    if path != "-":
        try:
            handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CliError(f"open {path!r}: {exc.strerror or exc}") from exc
        with handle:
            yield handle
        return
    with tempfile.TemporaryFile("w+", encoding="utf-8") as copy:
        shutil.copyfileobj(sys.stdin, copy)
        copy.seek(0)
        yield copy


def entries(source: IO[str]) -> Iterator[DurableTaskRecord]:
    """Every record of the snapshot, blank lines skipped. Raises CliError naming the bad line."""
    source.seek(0)
    for number, text in enumerate(source, start=1):
        if text.strip():
            try:
                yield from_line(text)
            except SnapshotError as exc:
                raise CliError(f"line {number}: {exc}") from exc


@snapshot.command("import")
@click.option("--in", "in_path", default="-", show_default=True, help="File to read (- is stdin).")
@APPLY
@connection_options
@click.pass_obj
def import_(container: Application, connection: Connection, in_path: str, apply: bool) -> None:
    """Restore tasks from a snapshot (ours or go-worker's JSONL), replacing tasks with the same id."""
    with spooled(in_path) as source:
        count = sum(1 for _ in entries(source))  # the whole file is checked before anything is written
        if not apply:
            click.echo(f"dry-run: use --apply to import {count} snapshot item(s)")
            return

        async def action(admin: DurableAdmin) -> int:
            restored = 0
            batch: list[DurableTaskRecord] = []
            with progress(count, "import") as advance:
                for record in entries(source):
                    batch.append(record)
                    if len(batch) == BATCH:
                        async with connection.bound():
                            restored += await admin.restore(batch)
                        advance(len(batch))
                        batch = []
                if batch:
                    async with connection.bound():
                        restored += await admin.restore(batch)
            return restored

        restored = operate(container, connection, action)
    click.echo(f"imported {restored} snapshot item(s)")
