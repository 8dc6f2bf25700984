"""The read commands of `workerctl durable`: inspect, queues, stats, get, dump, paused, dlq list."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import attrs
import click

from pyworker.application.admin import DurableAdmin
from pyworker.domain import MAX_PAGE_SIZE, DurableState, DurableStats, DurableTaskRecord, QueueStats
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run, run_backend
from pyworker.entrypoints.durable_cli.render import (
    json_line,
    queue_line,
    record_json,
    rfc3339,
    stats_json,
    totals_line,
)
from pyworker.entrypoints.durations import DURATION


def selected_queues(stats: DurableStats, queue: str | None) -> tuple[QueueStats, ...]:
    """go-worker's queue list: just ``--queue`` when given, else every known queue (sorted)."""
    if not queue:
        return stats.queues
    return tuple(q for q in stats.queues if q.queue == queue) or (QueueStats(queue),)




QUEUE = click.option("--queue", default="", help="Only this queue (default: every queue).")


@click.command()
@QUEUE
@click.option("--peek", type=click.IntRange(min=0), default=5, show_default=True,
              help="Ready ids shown with --show-ids.")
@click.option("--show-ids", is_flag=True, help="Show the first --peek ready ids (needs --queue).")
@connection_options
@click.pass_obj
def inspect(container: Application, connection: Connection, queue: str, peek: int, show_ids: bool) -> None:
    """Counts per queue and in total (ready, delayed, processing, dead)."""
    queue = queue.strip()

    async def action(admin: DurableAdmin) -> tuple[DurableStats, list[DurableTaskRecord]]:
        stats = await admin.stats()
        ids: list[DurableTaskRecord] = []
        if show_ids and peek > 0 and queue:
            ids = list((await admin.list_tasks("ready", queue, limit=peek)).records)
        return stats, ids

    stats, peeked = run(container, connection, action)
    shown = selected_queues(stats, queue)
    for q in shown:
        click.echo(queue_line(q))
    click.echo(totals_line(stats, shown))
    if show_ids and peek > 0:
        if not queue:
            click.echo("ready IDs: specify --queue to display IDs")
        else:
            click.echo("ready IDs: " + (", ".join(str(r.id) for r in peeked) or "none"))


@click.command()
@click.option("--with-counts", is_flag=True, help="Each queue's counts, then the totals.")
@connection_options
@click.pass_obj
def queues(container: Application, connection: Connection, with_counts: bool) -> None:
    """The queue names, one per line."""
    stats = run(container, connection, lambda admin: admin.stats())
    for q in stats.queues:
        click.echo(queue_line(q) if with_counts else q.queue)
    if with_counts:
        click.echo(totals_line(stats))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per refresh.")
@click.option("--watch", type=DURATION, default="0", show_default=True,
              help="Refresh every interval until Ctrl-C (0: print once).")
@connection_options
@click.pass_obj
def stats(container: Application, connection: Connection, as_json: bool, watch: float) -> None:
    """Counts per queue, the DLQ size and the pause flags (--json for scripts)."""
    if watch <= 0:
        print_stats(run(container, connection, lambda admin: admin.stats()), as_json)
        return
    live = not as_json and sys.stdout.isatty()

    async def refresh(admin: DurableAdmin) -> None:
        screen: contextlib.AbstractContextManager[Callable[[DurableStats], None] | None]
        screen = live_table() if live else contextlib.nullcontext()
        with screen as update:
            while True:
                async with connection.bound():
                    current = await admin.stats()
                if update is not None:
                    update(current)
                else:
                    print_stats(current, as_json)
                await asyncio.sleep(watch)

    with contextlib.suppress(KeyboardInterrupt):
        run_backend(container, connection, lambda backend: refresh(DurableAdmin(backend)), bounded=False)


def print_stats(current: DurableStats, as_json: bool) -> None:
    if as_json:
        click.echo(json_line(stats_json(current)))
        return
    for q in current.queues:
        click.echo(queue_line(q))
    click.echo(totals_line(current) + (" paused=true" if current.paused else ""))


@contextlib.contextmanager
def live_table() -> Iterator[Callable[[DurableStats], None]]:
    """A rich Live table on the terminal; yields the function that redraws it from new stats."""
    from rich.live import Live
    from rich.table import Table

    def table(current: DurableStats) -> Table:
        title = "durable queues" + (" (paused)" if current.paused else "")
        grid = Table(title=title)
        for column in ("queue", "ready", "delayed", "processing", "paused"):
            grid.add_column(column, justify="left" if column == "queue" else "right")
        for q in current.queues:
            grid.add_row(q.queue, str(q.ready), str(q.delayed), str(q.processing), "yes" if q.paused else "")
        grid.add_row("total", str(current.total_ready), str(current.total_delayed),
                     str(current.total_processing), "", end_section=True)
        grid.caption = f"dead={current.dead}"
        return grid

    with Live(auto_refresh=False) as screen:
        yield lambda current: screen.update(table(current), refresh=True)


@click.command()
@click.option("--id", "task_id", default="", help="The task id (required).")
@click.option("--include-metadata", is_flag=True, help="Include the task's metadata.")
@connection_options
@click.pass_obj
def get(container: Application, connection: Connection, task_id: str, include_metadata: bool) -> None:
    """One task as a JSON line (no payload)."""
    if not task_id.strip():
        raise click.UsageError("--id is required")
    record = run(container, connection, lambda admin: admin.get(task_id))
    click.echo(json_line(record_json(record, include_metadata=include_metadata)))


@attrs.frozen
class DumpFilter:
    """dump's filters (go-worker's): handler exact, retries within bounds (> 0 = set), age by updated/ready time."""

    handler: str = ""
    min_retries: int = 0
    max_retries: int = 0
    older_than: float = 0.0
    newer_than: float = 0.0

    def keeps(self, record: DurableTaskRecord, now: float) -> bool:
        if self.handler and record.handler != self.handler:
            return False
        if self.min_retries > 0 and record.retries < self.min_retries:
            return False
        if self.max_retries > 0 and record.retries > self.max_retries:
            return False
        stamp = record.updated_at or record.ready_at
        if stamp is None:
            return True
        if self.older_than > 0 and stamp > now - self.older_than:
            return False
        return not (self.newer_than > 0 and stamp < now - self.newer_than)


async def first(
    records: AsyncIterator[DurableTaskRecord], limit: int, connection: Connection
) -> AsyncIterator[DurableTaskRecord]:
    """At most ``limit`` records (0: all) of ``records``, each page read within the timeout."""
    count = 0
    while not limit or count < limit:
        try:
            async with connection.bound():
                record = await anext(records)
        except StopAsyncIteration:
            return
        count += 1
        yield record


@click.command()
@QUEUE
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="Tasks examined per queue and state (0: all).")
@click.option("--ready/--no-ready", default=True, show_default=True, help="Ready tasks.")
@click.option("--delayed", is_flag=True, help="Delayed tasks (waiting for their run time or retry).")
@click.option("--processing", is_flag=True, help="Leased tasks.")
@click.option("--dlq", is_flag=True, help="Dead-letter tasks.")
@click.option("--include-metadata", is_flag=True)
@click.option("--handler", default="", help="Only this handler.")
@click.option("--min-retries", type=click.IntRange(min=0), default=0,
              help="Only tasks with at least this many retries.")
@click.option("--max-retries", type=click.IntRange(min=0), default=0,
              help="Only tasks with at most this many retries.")
@click.option("--older-than", type=DURATION, default="0", help="Only tasks last updated at least this long ago.")
@click.option("--newer-than", type=DURATION, default="0", help="Only tasks last updated at most this long ago.")
@connection_options
@click.pass_obj
def dump(
    container: Application,
    connection: Connection,
    queue: str,
    limit: int,
    ready: bool,
    delayed: bool,
    processing: bool,
    dlq: bool,
    include_metadata: bool,
    handler: str,
    min_retries: int,
    max_retries: int,
    older_than: float,
    newer_than: float,
) -> None:
    """Tasks as JSON lines (no payloads): ready per queue, then delayed, processing, the DLQ (newest first)."""
    keep = DumpFilter(handler.strip(), min_retries, max_retries, older_than, newer_than)
    states = [s for s, on in ((DurableState.READY, ready), (DurableState.DELAYED, delayed),
                               (DurableState.PROCESSING, processing)) if on]
    if not (states or dlq):
        states = [DurableState.READY]
    queue = queue.strip()
    now = container.core.clock().now()
    page = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE

    async def action(admin: DurableAdmin) -> None:
        names = [q.queue for q in selected_queues(await admin.stats(), queue)]
        for state in states:
            for name in names:
                async for record in first(admin.iter_tasks(state, name, page_size=page), limit, connection):
                    emit(record)
        if dlq:
            dead = admin.iter_tasks(DurableState.DEAD, queue or None, page_size=page)
            async for record in first(dead, limit, connection):
                emit(record)

    def emit(record: DurableTaskRecord) -> None:
        if keep.keeps(record, now):
            click.echo(json_line(record_json(record, include_metadata=include_metadata)))

    # Lines stream out page by page: the timeout bounds each page (first()), not the whole dump.
    run_backend(container, connection, lambda backend: action(DurableAdmin(backend)), bounded=False)


@click.command()
@click.option("--queue", default="", help="Only this queue's pause flag.")
@connection_options
@click.pass_obj
def paused(container: Application, connection: Connection, queue: str) -> None:
    """Whether dequeue is paused: globally (paused=true|false), then each paused queue."""
    current = run(container, connection, lambda admin: admin.stats())
    queue = queue.strip()
    if queue:
        flag = any(q.paused for q in current.queues if q.queue == queue)
        click.echo(f"queue={queue} paused={'true' if flag else 'false'}")
        return
    click.echo(f"paused={'true' if current.paused else 'false'}")
    for q in current.queues:
        if q.paused:
            click.echo(f"queue={q.queue} paused=true")


@click.command("list")
@QUEUE
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Entries shown (0: all).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (with error text and time).")
@connection_options
@click.pass_obj
def dlq_list(container: Application, connection: Connection, queue: str, limit: int, as_json: bool) -> None:
    """Dead-letter entries, newest first: id, queue, handler, attempts, when and why it failed."""
    page = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE

    async def action(admin: DurableAdmin) -> None:
        dead = admin.iter_tasks(DurableState.DEAD, queue.strip() or None, page_size=page)
        async for record in first(dead, limit, connection):
            if as_json:
                click.echo(json_line(record_json(record, include_metadata=True)))
            else:
                error = record.last_error.replace("\n", " ")
                click.echo(
                    f"{record.id} queue={record.queue} handler={record.handler} attempts={record.attempts} "
                    f"failed_at={rfc3339(record.failed_at) or '-'} error={error!r}"
                )

    run_backend(container, connection, lambda backend: action(DurableAdmin(backend)), bounded=False)
