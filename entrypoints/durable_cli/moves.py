"""The moving commands of `workerctl durable`: retry, requeue, delete, purge, dlq replay (dry-run unless --apply)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import click

from pyworker.application.admin import DurableAdmin
from pyworker.domain import DurableState
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.control import APPLY
from pyworker.entrypoints.durable_cli.render import json_line
from pyworker.entrypoints.durable_cli.selection import (
    JSON,
    SHOW_IDS,
    Source,
    check_bound,
    drain,
    in_batches,
    parse_ids,
    progress,
    report,
    source,
    source_ids,
    source_size,
)
from pyworker.entrypoints.durations import DURATION
from pyworker.entrypoints.errors import CliError

T = TypeVar("T")

IDS = click.option("--id", "id_values", multiple=True, help="Task id (repeatable, or comma-separated).")
DEFAULT_QUEUE = click.option("--default-queue", default="default", show_default=True,
                             help="Queue for a task that names none (go-worker's flag).")


def operate(container: Application, connection: Connection, action: Callable[[DurableAdmin], Awaitable[T]]) -> T:
    """Run a long operation: each call it makes is bounded by the timeout (``bounded``), not the whole."""
    return run_backend(container, connection, lambda backend: action(DurableAdmin(backend)), bounded=False)


def plural(count: int) -> str:
    return f"{count} task(s)"


async def bounded_moves(
    admin: DurableAdmin, connection: Connection, *, ids: list[uuid.UUID], src: Source | None, limit: int,
    label: str, move: Callable[[Sequence[uuid.UUID]], Awaitable[int]], apply: bool, show_ids: bool,
    leaves: bool = True, yes: bool | None = None,
) -> tuple[int, int, list[uuid.UUID]]:
    """(tasks chosen, tasks moved, ids to show) for ``--id`` values or a source.

    A source is read page by page: when a moved task leaves it (``leaves``), the head
    page is read again after each move, so memory holds one page; otherwise (a ready
    task requeued into its own queue) the ids are read first. ``yes`` not None: the
    destructive bound applies (check_bound).
    """
    if ids:
        moved = await in_batches(ids, label, move) if apply else 0
        return len(ids), moved, ids
    assert src is not None
    wanted = await source_size(admin, src, limit, connection)
    if yes is not None:
        check_bound(wanted, yes, limit, label)
    if not apply:
        return wanted, 0, await source_ids(admin, src, wanted, connection) if show_ids else []
    if leaves:
        moved, kept = await drain(admin, src, wanted, connection, label, move, keep_ids=show_ids)
        return wanted, moved, kept
    chosen = await source_ids(admin, src, wanted, connection)
    return len(chosen), await in_batches(chosen, label, move), chosen if show_ids else []


def move_command(
    container: Application, connection: Connection, *, ids: list[uuid.UUID], src: Source | None, limit: int,
    queue: str | None, delay: float, apply: bool, show_ids: bool, as_json: bool,
) -> None:
    """retry and requeue: pick the tasks, then requeue them in batches (each task atomically)."""
    # A requeued task leaves its source unless it is a ready task that stays ready in its own queue.
    leaves = src is None or src.state is not DurableState.READY or delay > 0 or queue not in (None, src.queue)

    async def action(admin: DurableAdmin) -> tuple[int, int, list[uuid.UUID]]:
        async def move(chunk: Sequence[uuid.UUID]) -> int:
            async with connection.bound():
                return await admin.requeue(chunk, queue, delay)

        return await bounded_moves(admin, connection, ids=ids, src=src, limit=limit, label="requeue", move=move,
                                   apply=apply, show_ids=show_ids, leaves=leaves)

    chosen, moved, shown = operate(container, connection, action)
    where = f" from {src}" if src is not None and not ids else ""
    if not apply:
        report("requeue", False, chosen, shown, show_ids, as_json,
               f"dry-run: use --apply to requeue {plural(chosen)}{where}")
        return
    if not chosen:
        raise CliError("no tasks found to requeue")
    report("requeue", True, moved, shown, show_ids, as_json, f"requeued {plural(moved)}")


@click.command()
@IDS
@click.option("--source", "source_name", default="dlq", show_default=True,
              help="dlq, ready or processing (without --id).")
@click.option("--from-queue", default="", help="The queue of source ready/processing.")
@click.option("--queue", default="", help="Move the tasks to this queue (default: each task's own).")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Tasks at most (0: all).")
@click.option("--delay", type=DURATION, default="0", show_default=True, help="Ready after this delay.")
@DEFAULT_QUEUE
@APPLY
@SHOW_IDS
@JSON
@connection_options
@click.pass_obj
def retry(
    container: Application, connection: Connection, id_values: Sequence[str], source_name: str, from_queue: str,
    queue: str, limit: int, delay: float, default_queue: str, apply: bool, show_ids: bool, as_json: bool,
) -> None:
    """Requeue tasks (by --id, or from the DLQ, a ready or a processing set), keeping attempts and payload."""
    ids = parse_ids(id_values)
    src = None if ids else source(source_name, from_queue)
    move_command(container, connection, ids=ids, src=src, limit=limit, queue=queue.strip() or None, delay=delay,
                 apply=apply, show_ids=show_ids, as_json=as_json)


@click.command()
@click.option("--queue", default="", help="The queue whose tasks are requeued (required).")
@click.option("--processing", is_flag=True, help="Requeue its leased tasks (default: its ready tasks).")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True, help="Tasks at most (0: all).")
@click.option("--delay", type=DURATION, default="0", show_default=True, help="Ready after this delay.")
@DEFAULT_QUEUE
@APPLY
@SHOW_IDS
@JSON
@connection_options
@click.pass_obj
def requeue(
    container: Application, connection: Connection, queue: str, processing: bool, limit: int, delay: float,
    default_queue: str, apply: bool, show_ids: bool, as_json: bool,
) -> None:
    """Requeue one queue's ready (or, with --processing, leased) tasks: stuck leases come back at once."""
    if not queue.strip():
        raise click.UsageError("--queue is required")
    src = Source("processing" if processing else "ready", queue.strip())
    move_command(container, connection, ids=[], src=src, limit=limit, queue=None, delay=delay, apply=apply,
                 show_ids=show_ids, as_json=as_json)


@click.command()
@IDS
@click.option("--source", "source_name", default="", help="dlq, ready or processing (without --id).")
@click.option("--from-queue", default="", help="The queue of source ready/processing.")
@click.option("--queue", default="", help="Accepted for go-worker compatibility: a task is removed from its own queue.")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True, help="Tasks at most (0: all).")
@click.option("--delete-hash", is_flag=True, help="Forget the tasks entirely (else `get` still shows them).")
@click.option("--yes", is_flag=True, help="Allow more than 1000 tasks without --limit.")
@DEFAULT_QUEUE
@APPLY
@SHOW_IDS
@JSON
@connection_options
@click.pass_obj
def delete(
    container: Application, connection: Connection, id_values: Sequence[str], source_name: str, from_queue: str,
    queue: str, limit: int, delete_hash: bool, yes: bool, default_queue: str, apply: bool, show_ids: bool,
    as_json: bool,
) -> None:
    """Delete tasks (by --id, or from a source) so no worker runs them."""
    ids = parse_ids(id_values)
    src = None if ids else source(source_name, from_queue)

    async def action(admin: DurableAdmin) -> tuple[int, int, list[uuid.UUID]]:
        async def remove(chunk: Sequence[uuid.UUID]) -> int:
            async with connection.bound():
                return await admin.delete(chunk, delete_hash=delete_hash)

        return await bounded_moves(admin, connection, ids=ids, src=src, limit=limit, label="delete", move=remove,
                                   apply=apply, show_ids=show_ids, yes=yes)

    chosen, deleted, shown = operate(container, connection, action)
    where = f" from {src}" if src is not None else ""
    if not apply:
        report("delete", False, chosen, shown, show_ids, as_json,
               f"dry-run: use --apply to delete {plural(chosen)}{where}")
    else:
        report("delete", True, deleted, shown, show_ids, as_json, f"deleted {plural(deleted)}")


@click.command()
@click.option("--queue", default="", help="Only this queue (default: every queue).")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Tasks per queue and set at most (0: all).")
@click.option("--ready", is_flag=True, help="Purge ready tasks.")
@click.option("--delayed", is_flag=True, help="Purge delayed tasks.")
@click.option("--processing", is_flag=True, help="Purge leased tasks.")
@click.option("--dlq", is_flag=True, help="Purge the dead-letter queue.")
@click.option("--yes", is_flag=True, help="Allow more than 1000 tasks without --limit.")
@APPLY
@SHOW_IDS
@JSON
@connection_options
@click.pass_obj
def purge(
    container: Application, connection: Connection, queue: str, limit: int, ready: bool, delayed: bool,
    processing: bool, dlq: bool, yes: bool, apply: bool, show_ids: bool, as_json: bool,
) -> None:
    """Remove tasks (and their records) from sets you name: --ready, --delayed, --processing, --dlq."""
    if not (ready or delayed or processing or dlq):
        raise click.UsageError("at least one of --ready, --processing, or --dlq is required")
    queue = queue.strip()
    states = [s for s, on in ((DurableState.READY, ready), (DurableState.DELAYED, delayed),
                               (DurableState.PROCESSING, processing)) if on]

    async def action(admin: DurableAdmin) -> list[tuple[str, list[uuid.UUID], int]]:
        async with connection.bound():
            names = [queue] if queue else [q.queue for q in (await admin.stats()).queues]
        sets = [(f"{state.value} queue={name}", Source(state.value, name)) for state in states for name in names]
        if dlq:
            sets.append(("dlq", Source("dlq", queue or None)))
        sizes = [await source_size(admin, src, limit, connection) for _, src in sets]
        check_bound(sum(sizes), yes, limit, "purge")

        async def remove(chunk: Sequence[uuid.UUID]) -> int:
            async with connection.bound():
                return await admin.delete(chunk, delete_hash=True)

        done = []
        for (label, src), size in zip(sets, sizes, strict=True):
            if apply:
                removed, kept = await drain(admin, src, size, connection, f"purge {label}", remove, keep_ids=show_ids)
            else:
                removed, kept = size, await source_ids(admin, src, size, connection) if show_ids else []
            done.append((label, kept, removed))
        return done

    done = operate(container, connection, action)
    if as_json:
        out = [{"set": label, "count": removed, **({"ids": [str(i) for i in ids]}
                if show_ids else {})} for label, ids, removed in done]
        click.echo(json_line({"action": "purge", "applied": apply, "sets": out}))
        return
    for label, ids, removed in done:
        prefix = "purged" if apply else "dry-run: would purge"
        click.echo(f"{prefix} {label} removed={removed}")
        if show_ids:
            for task_id in ids:
                click.echo(str(task_id))
    if not apply:
        click.echo("dry-run: use --apply to purge")


@click.command()
@click.option("--batch", type=int, default=100, show_default=True, help="DLQ entries replayed at most (<= 0: 100).")
@click.option("--show-counts/--no-show-counts", default=True, show_default=True, help="The DLQ size before and after.")
@DEFAULT_QUEUE
@APPLY
@JSON
@connection_options
@click.pass_obj
def replay(
    container: Application, connection: Connection, batch: int, show_counts: bool, default_queue: str, apply: bool,
    as_json: bool,
) -> None:
    """Move the oldest dead-letter tasks back to their queues, ready now (attempts kept)."""
    batch = batch if batch > 0 else 100

    async def action(admin: DurableAdmin) -> tuple[int, int, int]:
        async with connection.bound():
            before = (await admin.stats()).dead
        replayed = 0
        if apply:
            with progress(min(batch, before), "replay") as advance:
                while replayed < batch:
                    async with connection.bound():
                        step = await admin.replay_dead(min(1000, batch - replayed))
                    replayed += step
                    advance(step)
                    if step == 0:
                        break
        async with connection.bound():
            after = (await admin.stats()).dead
        return before, replayed, after

    before, replayed, after = operate(container, connection, action)
    if as_json:
        click.echo(json_line({"action": "replay", "applied": apply, "count": replayed if apply else min(batch, before),
                              "dlq_before": before, "dlq_after": after}))
        return
    if show_counts:
        click.echo(f"DLQ size before: {before}")
    if not apply:
        click.echo(f"dry-run: use --apply to replay up to {batch} DLQ item(s)")
        return
    click.echo(f"replayed {replayed} DLQ item(s)")
    if show_counts:
        click.echo(f"DLQ size after: {after}")
