"""Which tasks a moving command acts on (ids or a source), the safety bound, progress and the report."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence

import attrs
import click

from pyworker.application.admin import DurableAdmin, parse_task_id
from pyworker.domain import DurableState, WorkerError
from pyworker.entrypoints.durable_cli.connection import Connection
from pyworker.entrypoints.durable_cli.render import json_line

SOURCES = ("dlq", "ready", "processing")
#: A source's name (what --source takes, and purge's sets) -> the state it lists.
STATE_OF = {"dlq": DurableState.DEAD, "ready": DurableState.READY, "delayed": DurableState.DELAYED,
            "processing": DurableState.PROCESSING}
#: Tasks a destructive bulk command (purge, delete without --id) touches at most without --yes or --limit.
DESTRUCTIVE_BOUND = 1000
#: Tasks per call to the admin service while moving (each task is still its own atomic move).
BATCH = 1000

SHOW_IDS = click.option("--show-ids", is_flag=True, help="List the ids that are (or would be) changed.")
JSON = click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts (and ids).")


def parse_ids(values: Sequence[str]) -> list[uuid.UUID]:
    """``--id`` values: repeatable, comma-separated lists allowed, blanks skipped; duplicates once."""
    ids: dict[uuid.UUID, None] = {}
    for value in values:
        for part in value.split(","):
            if part.strip():
                try:
                    ids[parse_task_id(part)] = None
                except WorkerError as exc:
                    raise click.UsageError(str(exc)) from exc
    return list(ids)


@attrs.frozen
class Source:
    """Where tasks are taken from when no --id is given: the DLQ, or one queue's ready or processing set."""

    name: str
    queue: str | None = None

    @property
    def state(self) -> DurableState:
        return STATE_OF[self.name]

    def __str__(self) -> str:
        return self.name if self.queue is None else f"{self.name}:{self.queue}"


def source(name: str, from_queue: str) -> Source:
    """go-worker's checks, in its order and words."""
    name, from_queue = name.strip().lower(), from_queue.strip()
    if not name:
        raise click.UsageError("source is required when --id is not set")
    if name not in SOURCES:
        raise click.UsageError("source must be dlq, ready, or processing")
    if name != "dlq" and not from_queue:
        raise click.UsageError("--from-queue is required for source ready/processing")
    return Source(name, from_queue or None)


def check_bound(count: int, yes: bool, limit: int, what: str) -> None:
    """Refuse a destructive bulk change past DESTRUCTIVE_BOUND tasks unless --yes or an explicit --limit."""
    if count > DESTRUCTIVE_BOUND and not yes and limit <= 0:
        raise click.UsageError(
            f"{what} would remove {count} tasks (more than {DESTRUCTIVE_BOUND}): add --yes, or --limit N"
        )


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal and the work is long; silent otherwise."""
    if total <= BATCH or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


async def in_batches(
    ids: Sequence[uuid.UUID], label: str, move: Callable[[Sequence[uuid.UUID]], Awaitable[int]]
) -> int:
    """``move`` over ``ids`` BATCH at a time, with a progress bar; returns the total moved."""
    moved = 0
    with progress(len(ids), label) as advance:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            moved += await move(chunk)
            advance(len(chunk))
    return moved


async def source_size(admin: DurableAdmin, src: Source, limit: int, connection: Connection) -> int:
    """How many tasks a command on ``src`` touches: its size (from the counts), at most ``limit`` (0: all)."""
    async with connection.bound():
        stats = await admin.stats()
    if src.state is DurableState.DEAD and src.queue is not None:  # one queue's part of the DLQ: counted by reading
        return len(await source_ids(admin, src, limit if limit > 0 else stats.dead, connection))
    if src.state is DurableState.DEAD:
        size = stats.dead
    else:
        counts = next((q for q in stats.queues if q.queue == src.queue), None)
        by_state = {} if counts is None else {DurableState.READY: counts.ready, DurableState.DELAYED: counts.delayed,
                                               DurableState.PROCESSING: counts.processing}
        size = by_state.get(src.state, 0)
    return min(size, limit) if limit > 0 else size


async def source_ids(admin: DurableAdmin, src: Source, wanted: int, connection: Connection) -> list[uuid.UUID]:
    """The first ``wanted`` ids of ``src`` in listing order, page by page (each page within the timeout)."""
    ids: list[uuid.UUID] = []
    cursor: str | None = None
    while len(ids) < wanted:
        async with connection.bound():
            page = await admin.list_tasks(src.state, src.queue, limit=min(BATCH, wanted - len(ids)), cursor=cursor)
        ids.extend(record.id for record in page.records)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return ids[:wanted]


async def drain(
    admin: DurableAdmin, src: Source, wanted: int, connection: Connection, label: str,
    move: Callable[[Sequence[uuid.UUID]], Awaitable[int]], *, keep_ids: bool,
) -> tuple[int, list[uuid.UUID]]:
    """Move up to ``wanted`` tasks that leave ``src`` when moved: read the head page, move it, read the
    head again. Only one page of ids is held at a time (plus the ids kept for --show-ids).
    """
    if src.state is DurableState.DEAD and src.queue is not None:
        # A queue-filtered DLQ page can come back empty before the DLQ's end: read the ids first.
        ids = await source_ids(admin, src, wanted, connection)
        return await in_batches(ids, label, move), ids if keep_ids else []
    moved, seen = 0, 0
    kept: list[uuid.UUID] = []
    with progress(wanted, label) as advance:
        while seen < wanted:
            async with connection.bound():
                page = await admin.list_tasks(src.state, src.queue, limit=min(BATCH, wanted - seen))
            ids = [record.id for record in page.records]
            if not ids:
                break
            async with connection.bound():
                moved += await move(ids)
            seen += len(ids)
            advance(len(ids))
            if keep_ids:
                kept.extend(ids)
    return moved, kept


def report(action: str, applied: bool, count: int, ids: Sequence[uuid.UUID], show_ids: bool, as_json: bool,
           text: str) -> None:
    """The outcome: ``text`` (and the ids with --show-ids), or one JSON object with --json."""
    if as_json:
        out: dict[str, object] = {"action": action, "applied": applied, "count": count}
        if show_ids:
            out["ids"] = [str(i) for i in ids]
        click.echo(json_line(out))
        return
    click.echo(text)
    if show_ids:
        for task_id in ids:
            click.echo(str(task_id))
