"""workerctl demo: a few hundred in-memory tasks on weighted queues, watched live, then summarised."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
import uuid
from collections import Counter, defaultdict

import attrs
import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pyworker.application import Clock, TaskHooks, TaskManager
from pyworker.domain import Task, TaskStatus, WaitTimeoutError
from pyworker.entrypoints.container import Application, configure, task_manager_scope
from pyworker.entrypoints.demo_tasks import QUEUE_WEIGHTS, RETRY_DELAY, Kind, Plan, build_plan
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_INTERNAL

#: Live states, in display order, with their colours (the terminal ones use go-worker's wire names).
STYLES = {"Queued": "cyan", "Delayed": "blue", "Running": "yellow", "Retrying": "magenta",
          "Completed": "green", "Failed": "red", "Cancelled": "bright_black"}
ALWAYS_SHOWN = ("Completed", "Failed", "Cancelled")
FAILED = frozenset({TaskStatus.FAILED, TaskStatus.CONTEXT_DEADLINE_REACHED, TaskStatus.INVALID})
WAIT_LIMIT = 120.0  # seconds; only a lost task could make the demo wait this long
CANCEL_AFTER = 0.05  # seconds a "cancel while running" task runs before the demo cancels it


@attrs.define
class Tally:
    """Live counts, kept by the manager's hooks (which all run on the event loop)."""

    clock: Clock
    cancel_when_started: set[uuid.UUID]
    state: dict[uuid.UUID, str] = attrs.field(factory=dict)
    counts: Counter[str] = attrs.field(factory=Counter)
    ready_at: dict[uuid.UUID, float] = attrs.field(factory=dict)
    finished: Counter[tuple[str, str]] = attrs.field(factory=Counter)  # (queue, status) -> tasks
    latencies: defaultdict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))
    started: asyncio.Queue[uuid.UUID] = attrs.field(factory=asyncio.Queue)

    @property
    def registered(self) -> int:
        return len(self.state)

    @property
    def terminal(self) -> int:
        return sum(self.counts[name] for name in ALWAYS_SHOWN)

    def hooks(self) -> TaskHooks:
        return TaskHooks(on_queued=self.on_queued, on_start=self.on_start, on_retry=self.on_retry,
                         on_finish=self.on_finish)

    def _move(self, task: Task, state: str) -> None:
        previous = self.state.get(task.id)
        if previous is not None:
            self.counts[previous] -= 1
        self.state[task.id] = state
        self.counts[state] += 1

    def on_queued(self, task: Task) -> None:
        # A delayed task keeps its run_at until it becomes due.
        self.ready_at[task.id] = task.run_at if task.run_at is not None else self.clock.now()
        self._move(task, "Delayed" if task.run_at is not None else "Queued")

    def on_start(self, task: Task) -> None:
        self._move(task, "Running")
        if task.id in self.cancel_when_started:
            self.started.put_nowait(task.id)

    def on_retry(self, task: Task, delay: float, attempt: int) -> None:
        self._move(task, "Retrying")

    def on_finish(self, task: Task, status: TaskStatus, result: object, error: BaseException | None) -> None:
        state = "Failed" if status in FAILED else str(status)
        self._move(task, state)
        self.finished[task.queue, state] += 1
        if status is TaskStatus.COMPLETED:
            self.latencies[task.queue].append(self.clock.now() - self.ready_at[task.id])


class _ErrorLog(logging.Handler):
    """Counts the errors the manager logs (a worker's unexpected exception, a failing hook)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class TasksLostError(click.ClickException):
    """Some registered task never reached a terminal status: one line on stderr, exit 1."""

    exit_code = EXIT_ERROR

    def show(self, file: object = None) -> None:
        click.echo(f"workerctl: demo failed: {self.format_message()}", err=True)


class ManagerError(TasksLostError):
    """The manager logged an error (a worker's unexpected exception, a failing hook): exit 70."""

    exit_code = EXIT_INTERNAL


@attrs.frozen
class Outcome:
    """What one demo run produced."""

    tally: Tally
    retries: int
    elapsed: float
    lost: int
    internal_errors: int


@click.command()
@click.option("--tasks", "total", type=click.IntRange(10, 100_000), default=300, show_default=True,
              help="How many tasks to register.")
@click.option("--workers", type=click.IntRange(1, 1024), default=8, show_default=True, help="Concurrent workers.")
@click.option("--seed", type=int, default=None, help="Seed for the task mix (default: random, printed).")
@click.option("--no-progress", is_flag=True, help="Plain output, no live view (automatic when stdout is not a TTY).")
@click.option("--speed", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Divide every wait by this (tests use 20 to finish in a blink).")
@click.pass_obj
def demo(container: Application, total: int, workers: int, seed: int | None, no_progress: bool, speed: float) -> None:
    """Run a few hundred in-memory tasks on three weighted queues and summarise what happened.

    Quick and slow coroutines, plain functions on the thread pool, flaky tasks
    that succeed on a retry, doomed ones, cancellations and delayed tasks: the
    whole TaskManager in ~5 seconds. Exits non-zero only if a task is lost or
    the manager logs an internal error.
    """
    console = Console(highlight=False)
    live = not no_progress and console.is_terminal
    seed = seed if seed is not None else int(time.time()) % 10_000
    plan = build_plan(total, seed, speed)
    _print_intro(console, plan, workers, seed)
    configure(
        container,
        manager={
            "max_workers": workers,
            "max_tasks": len(plan.tasks),  # everything may wait at once: no QueueFullError
            "tasks_per_second": 0,  # no rate limit
            "queue_weights": QUEUE_WEIGHTS,
            "max_retries": 3,
        },
    )
    outcome = asyncio.run(_run(container, plan, console if live else None))
    _print_summary(console, plan, outcome)
    if outcome.lost:
        raise TasksLostError(f"{outcome.lost} task(s) lost")
    if outcome.internal_errors:
        raise ManagerError(f"{outcome.internal_errors} internal error(s)")


async def _run(container: Application, plan: Plan, console: Console | None) -> Outcome:
    async with task_manager_scope(container) as manager:
        return await _drive(manager, plan, console)


async def _drive(manager: TaskManager, plan: Plan, console: Console | None) -> Outcome:
    cancel_running = {p.task.id for p in plan.tasks if p.kind is Kind.CANCEL_RUNNING}
    tally = Tally(manager.clock, cancel_running)
    manager.set_hooks(tally.hooks())
    errors = _ErrorLog()
    logging.getLogger("pyworker").addHandler(errors)
    background: list[asyncio.Task[None]] = []
    try:
        await manager.start()
        started = time.perf_counter()
        await manager.register_tasks(p.task for p in plan.tasks if p.delay == 0)
        for p in plan.tasks:
            if p.delay > 0:
                await manager.register_task_after(p.task, p.delay)
        for p in plan.tasks:  # nothing has run yet: these are still waiting in their queue
            if p.kind is Kind.CANCEL_QUEUED:
                await manager.cancel_task(p.task.id)
        background += [asyncio.create_task(_cancel_when_running(manager, tally.started, CANCEL_AFTER / plan.speed)),
                       asyncio.create_task(_show_progress(plan, tally, console))]
        with contextlib.suppress(WaitTimeoutError):  # whatever is unfinished then counts as lost
            await manager.wait(WAIT_LIMIT)
        elapsed = time.perf_counter() - started
        metrics = manager.get_metrics()
        lost = max(tally.registered - tally.terminal,
                   metrics.scheduled - (metrics.completed + metrics.failed + metrics.cancelled))
        if not lost:
            await manager.stop_graceful()
    finally:  # also on Ctrl-C: stop the live view, then the manager (a no-op after stop_graceful)
        for job in background:
            job.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await manager.stop_now()
        logging.getLogger("pyworker").removeHandler(errors)
    return Outcome(tally, metrics.retried, elapsed, lost, errors.count)


async def _cancel_when_running(manager: TaskManager, started: asyncio.Queue[uuid.UUID], after: float) -> None:
    """Cancel each task the on_start hook reports, a moment after it started."""

    async def cancel_later(task_id: uuid.UUID) -> None:
        await asyncio.sleep(after)
        await manager.cancel_task(task_id)

    async with asyncio.TaskGroup() as group:
        while True:
            group.create_task(cancel_later(await started.get()))


async def _show_progress(plan: Plan, tally: Tally, console: Console | None) -> None:
    """A live view on a terminal; otherwise one plain line per second."""
    if console is None:
        while True:
            await asyncio.sleep(1.0)
            click.echo(f"  {tally.terminal}/{len(plan.tasks)} finished  ({_status_words(tally)})")
    progress = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), TimeElapsedColumn(), console=console)
    overall = progress.add_task("[bold]all tasks", total=len(plan.tasks))
    per_queue = plan.by_queue()
    bars = {name: progress.add_task(f"  {name} (weight {weight})", total=per_queue[name])
            for name, weight in QUEUE_WEIGHTS.items()}

    def draw() -> Group:
        progress.update(overall, completed=tally.terminal)
        for name, bar in bars.items():
            progress.update(bar, completed=sum(tally.finished[name, s] for s in ALWAYS_SHOWN))
        return Group(progress, _status_text(tally))

    with Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                live.update(draw(), refresh=True)
                await asyncio.sleep(0.1)
        finally:  # the last frame shows the final counts
            live.update(draw(), refresh=True)


def _status_words(tally: Tally) -> str:
    return ", ".join(f"{name.lower()} {tally.counts[name]}" for name in STYLES)


def _status_text(tally: Tally) -> Text:
    text = Text()
    for label, names in (("  waiting", ("Queued", "Delayed", "Retrying")), ("  |", ("Running",)),
                         ("\n  done   ", ALWAYS_SHOWN)):
        text.append(label, style="dim")
        for name in names:
            style = STYLES[name]
            text.append(f"  {name} ", style=style).append(f"{tally.counts[name]:<4}", style=f"bold {style}")
    return text


def _print_intro(console: Console, plan: Plan, workers: int, seed: int) -> None:
    queues = ", ".join(f"{name} (weight {weight})" for name, weight in QUEUE_WEIGHTS.items())
    console.print(f"[bold]pyworker demo[/]: {len(plan.tasks)} tasks on {workers} workers, "
                  f"seed {seed} (rerun with --seed {seed})", soft_wrap=True)
    console.print(f"Queues: {queues}", soft_wrap=True)
    table = Table(title="Workload", title_justify="left")
    table.add_column("Kind")
    table.add_column("Tasks", justify="right")
    table.add_column("What it does")
    for kind in Kind:
        table.add_row(kind.label, str(plan.count(kind)), kind.description)
    console.print(table)
    console.print(f"{plan.delayed} of the quick/slow/def tasks wait {0.5 / plan.speed:.2g}-{2.5 / plan.speed:.2g} s "
                  "first (register_task_after).\nLower priority numbers run first; a queue of weight 3 gets "
                  "3 turns for every turn of a weight-1 queue.\n", soft_wrap=True)


def _print_summary(console: Console, plan: Plan, outcome: Outcome) -> None:
    tally = outcome.tally
    registered = len(plan.tasks)
    by_status = Table(title="Outcome by status", title_justify="left")
    by_status.add_column("Status")
    by_status.add_column("Tasks", justify="right")
    by_status.add_column("Share", justify="right")
    shown = [name for name in STYLES if name in ALWAYS_SHOWN or tally.counts[name]]
    for name in shown:
        count = tally.counts[name]
        by_status.add_row(Text(name, style=STYLES[name]), str(count), f"{count / registered:.0%}")
    console.print()
    console.print(by_status)

    console.print()
    by_queue = Table(title="Outcome by queue", title_justify="left",
                     caption="latency: ready (registered, or due if delayed) -> completed", caption_justify="left")
    for column in ("Queue", "Weight", "Tasks", "Completed", "Failed", "Cancelled", "Mean latency"):
        by_queue.add_column(column, justify="left" if column == "Queue" else "right")
    per_queue = plan.by_queue()
    for name, weight in QUEUE_WEIGHTS.items():
        latencies = tally.latencies[name]
        mean = f"{statistics.fmean(latencies) * 1000:.0f} ms" if latencies else "-"
        by_queue.add_row(name, str(weight), str(per_queue[name]),
                         *(str(tally.finished[name, s]) for s in ALWAYS_SHOWN), mean)
    console.print(by_queue)

    done = tally.terminal
    rate = done / outcome.elapsed if outcome.elapsed > 0 else 0.0
    completed, failed, cancelled = (tally.counts[name] for name in ALWAYS_SHOWN)
    verdict = "nothing lost" if not outcome.lost else f"{outcome.lost} LOST"
    console.print(f"Throughput  {rate:.1f} tasks/s ({done} tasks in {outcome.elapsed:.2f} s)", soft_wrap=True)
    base = 1000 * RETRY_DELAY / plan.speed
    console.print(f"Retries     {outcome.retries} scheduled (base delay {base:.0f} ms, doubling)", soft_wrap=True)
    console.print(f"Elapsed     {outcome.elapsed:.2f} s")
    console.print(f"Accounted   {registered} registered = {completed} completed + {failed} failed + "
                  f"{cancelled} cancelled: {verdict}", soft_wrap=True)
    if outcome.internal_errors:
        console.print(f"[red]{outcome.internal_errors} internal error(s) logged by the manager[/]")
