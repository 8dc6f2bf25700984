"""workerctl worker: a durable worker node that runs the handlers of a user's app."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any, cast

import click

from pyworker.application import DurableHandlerSpec, TaskManager, TypedDurableRegistry
from pyworker.application.attempt import is_async_function
from pyworker.application.config import MAX_AUTO_BATCH, DurableConfig
from pyworker.domain import BackendUnavailableError, DurableModeError, RetentionPolicy
from pyworker.domain.schedule import ScheduleError
from pyworker.entrypoints.container import Application, configure, task_manager_scope
from pyworker.entrypoints.durations import DURATION, format_duration
from pyworker.entrypoints.errors import EXIT_USAGE, CliError
from pyworker.entrypoints.limit_options import limit_options, limit_settings
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL, REDIS_URL, redact_url
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX
from pyworker.entrypoints.telemetry_options import telemetry_banner, telemetry_options, telemetry_settings

#: The default concurrency of a node whose handlers are all coroutines (docs/durable.md#tuning).
ASYNC_CONCURRENCY = 64


def default_concurrency(handlers: Mapping[str, DurableHandlerSpec]) -> int:
    """``--concurrency`` when not given: ASYNC_CONCURRENCY for coroutine handlers, which
    wait on I/O without a thread each; a plain ``def`` handler holds a thread per attempt,
    so with one the pool size ``concurrent.futures`` picks for I/O, min(32, CPUs + 4).
    """
    if handlers and all(is_async_function(spec.fn) for spec in handlers.values()):
        return ASYNC_CONCURRENCY
    return min(32, (os.cpu_count() or 1) + 4)


def node_sizes(
    handlers: Mapping[str, DurableHandlerSpec], concurrency: int | None, batch: int | None, prefetch: int | None
) -> tuple[int, int, int]:
    """``--concurrency``, ``--batch`` and ``--prefetch`` with their defaults filled in:
    the batch follows the concurrency (``DurableConfig.batch_for``), the prefetch the batch.
    """
    workers = concurrency if concurrency is not None else default_concurrency(handlers)
    size = batch if batch is not None else DurableConfig().batch_for(workers)
    return workers, size, prefetch if prefetch is not None else size


class AppLoadError(CliError):
    """--app could not be imported or is not a handler registry: a usage error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


def _import_attribute(spec: str, flag: str) -> Any:
    """The object ``module:attribute`` names; the module is imported with the working
    directory on ``sys.path``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise AppLoadError(f"{flag} must be module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like celery/rq: the app lives in the working directory
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppLoadError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}") from None


def load_handlers(spec: str) -> dict[str, DurableHandlerSpec]:
    """Import ``module:attribute`` and return its durable handlers.

    The attribute may be a TypedDurableRegistry, a mapping of name to
    DurableHandlerSpec, or a callable returning either.
    """
    target = _import_attribute(spec, "--app")
    if callable(target) and not isinstance(target, TypedDurableRegistry | Mapping):
        target = target()
    if isinstance(target, TypedDurableRegistry):
        return target.handlers()
    if isinstance(target, Mapping) and all(isinstance(v, DurableHandlerSpec) for v in target.values()):
        return dict(target)
    raise AppLoadError(f"{spec} is not a TypedDurableRegistry or a mapping of DurableHandlerSpec")


#: ``--schedules``: called with the node's TaskManager before it starts; it registers the
#: app's schedules (``manager.register_durable_cron_task(...)``), docs/cluster.md#schedules.
ScheduleSetup = Callable[[TaskManager], Any]


def load_schedules(spec: str | None) -> ScheduleSetup | None:
    """Import ``module:attribute`` for ``--schedules``: a callable taking the manager."""
    if spec is None:
        return None
    target = _import_attribute(spec, "--schedules")
    if not callable(target):
        raise AppLoadError(f"{spec} is not a callable that takes the TaskManager")
    return cast(ScheduleSetup, target)


async def add_schedules(manager: TaskManager, setup: ScheduleSetup | None, spec: str | None) -> None:
    """Run the app's schedule setup; its typed errors (a bad spec, a durable schedule on a
    manager without a backend) are usage errors, one line and exit 2."""
    if setup is None:
        return
    try:
        outcome = setup(manager)
        if inspect.isawaitable(outcome):
            await outcome
    except (ScheduleError, DurableModeError) as exc:
        raise AppLoadError(f"--schedules {spec}: {exc}") from exc


async def serve(
    container: Application,
    handlers: Mapping[str, DurableHandlerSpec],
    keep_finished: int,
    schedules: ScheduleSetup | None = None,
    schedules_spec: str | None = None,
) -> int:
    """Run the container's manager until SIGTERM/SIGINT, then close the container's resources."""
    async with task_manager_scope(container) as manager:
        # A node runs forever: without a bound its registry of finished tasks grows without end.
        manager.set_retention_policy(RetentionPolicy(max_entries=max(keep_finished, 1)))
        await add_schedules(manager, schedules, schedules_spec)
        await start(manager, container)
        ready = banner(container, handlers) + schedules_banner(manager) + telemetry_banner(container)
        return await run_until_signalled(manager, ready)


def schedules_banner(manager: TaskManager) -> str:
    names = [info.name for info in manager.list_schedules()]
    return f" schedules={names}" if names else ""


async def start(manager: TaskManager, container: Application) -> None:
    """Start the node: ``start()`` reaches the backend first, retrying for
    ``--connect-timeout`` (``application/durable/reconnect.py``).

    Raises:
        BackendUnavailableError: no answer in time (exit 3); the message names where
            it looked (the Redis URL with its password redacted).
    """
    try:
        await manager.start()
    except BackendUnavailableError as exc:
        settings = container.backends.settings()
        where = redact_url(settings.redis_url) if settings.kind == "redis" else settings.kind
        raise BackendUnavailableError(reason=f"{where}: {exc.reason}") from exc


async def run_until_signalled(manager: TaskManager, ready: str) -> int:
    """Start, print ``ready`` once started, and run until SIGTERM/SIGINT: the first
    stops gracefully, a second stops at once."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = 0
    hard_stops: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            click.echo("worker: stopping gracefully (signal again to stop now)", err=True)
            stop_requested.set()
        else:
            click.echo("worker: stopping now", err=True)
            hard_stops.append(loop.create_task(manager.stop_now()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await manager.start()
        click.echo(ready, err=True)  # only now: start() returned, the node is leasing
        await stop_requested.wait()
        await manager.stop_graceful()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await manager.stop_now()
    click.echo("worker: stopped", err=True)
    return 0


def banner(container: Application, handlers: Mapping[str, DurableHandlerSpec]) -> str:
    """The readiness line, from the settings the manager was built with (the password redacted)."""
    settings = container.backends.settings()
    manager = container.services.manager_config()
    durable = container.services.durable_config()
    where = f"backend={settings.kind}"
    if settings.kind == "redis":
        where += f" url={redact_url(settings.redis_url)} prefix={settings.redis_prefix}"
    queues = ",".join(durable.queues) if durable.queues else "all"
    if settings.global_rate_limit is not None:
        where += " global_rate_limit={:g}:{}".format(*settings.global_rate_limit)
    if settings.queue_concurrency:
        where += " queue_concurrency=" + ",".join(f"{q}={n}" for q, n in sorted(settings.queue_concurrency.items()))
    return (
        f"worker ready: pid={os.getpid()} handlers={sorted(handlers)} {where} queues={queues} "
        f"concurrency={manager.max_workers} lease={format_duration(durable.lease)} batch={durable.batch_size} "
        f"prefetch={durable.prefetch} results={format_duration(durable.result_ttl) if durable.result_ttl else 'off'}"
    )


@click.command()
@click.option("--app", "app", required=True, help="module:attribute of your TypedDurableRegistry.")
@click.option("--schedules", "schedules", default=None,
              help="module:attribute of a callable that registers schedules on the manager.")
@click.option("--redis-url", type=REDIS_URL, default=DEFAULT_REDIS_URL, show_default=True, envvar="PYWORKER_REDIS_URL",
              help="redis://, rediss:// or unix:// URL.")
@click.option("--redis-prefix", default=DEFAULT_REDIS_PREFIX, show_default=True,
              help="Key prefix (wrapped as {prefix}).")
@click.option("--backend", type=click.Choice(["redis", "memory"]), default="redis", show_default=True)
@click.option("--queues", default="", help="Comma-separated queues to consume (default: all).")
@click.option("--default-queue", default="default", show_default=True)
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=None,
              help=f"Concurrent attempts. Default: {ASYNC_CONCURRENCY} when every handler is async (coroutines "
                   "cost little), else min(32, CPUs + 4), the thread pool size Python picks for I/O (each "
                   "attempt of a plain def handler holds a thread).")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help=f"Leases per dequeue. Default: the concurrency (at most {MAX_AUTO_BATCH}), so one round trip "
                   "can fill every free worker.")
@click.option("--prefetch", type=click.IntRange(min=0), default=None,
              help="Leases held beyond the running ones, so the next batch is already local when workers free "
                   "up (handed back at once on a graceful stop; renewed while they wait with --renew; "
                   "without it, --lease must cover the wait plus the attempt). Default: the batch size.")
@click.option("--lease", type=DURATION, default="30s", show_default=True)
@click.option("--renew", type=DURATION, default="0", show_default=True, help="Lease renewal interval (0: off).")
@click.option("--poll", type=DURATION, default="200ms", show_default=True, help="Fallback poll interval.")
@click.option("--timeout", type=DURATION, default="5m", show_default=True, help="Per-attempt timeout.")
@click.option("--connect-timeout", type=DURATION, default="10s", show_default=True,
              help="How long to wait for Redis at start before giving up (exit 3; 0: one try).")
@click.option("--node-ttl", type=DURATION, default="15s", show_default=True,
              help="How long this node stays listed by `workerctl durable nodes` after its last heartbeat "
                   "(it beats every third of it; 0: no heartbeats).")
@click.option("--result-ttl", type=DURATION, default="10m", show_default=True,
              help="How long a task's outcome stays readable on every node (get_result, gRPC GetTask), and "
                   "whether outcomes go on the results stream other nodes' subscribers read (0: off).")
@click.option("--results-max-len", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="The results stream's approximate length cap, in outcomes.")
@click.option("--max-retries", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--codec", type=click.Choice(["proto", "json"]), default="proto", show_default=True)
@click.option(
    "--keep-finished",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Finished tasks kept in memory for get_task and hooks (older ones are forgotten).",
)
@limit_options
@telemetry_options
@click.pass_obj
def worker(
    container: Application,
    app: str,
    schedules: str | None,
    redis_url: str,
    redis_prefix: str,
    backend: str,
    queues: str,
    default_queue: str,
    concurrency: int | None,
    batch: int | None,
    prefetch: int | None,
    lease: float,
    renew: float,
    poll: float,
    timeout: float,
    connect_timeout: float,
    node_ttl: float,
    result_ttl: float,
    results_max_len: int,
    max_retries: int,
    codec: str,
    keep_finished: int,
    global_rate_limit: tuple[float, int] | None,
    queue_concurrency: tuple[tuple[str, int], ...],
    metrics_port: int | None,
    metrics_host: str,
    traces: str | None,
    metrics_exporter: str | None,
) -> None:
    """Run a durable worker node: lease tasks from Redis and run your handlers."""
    handlers = load_handlers(app)
    concurrency, batch_size, prefetch_size = node_sizes(handlers, concurrency, batch, prefetch)
    setup = load_schedules(schedules)
    queue_names = [q.strip() for q in queues.split(",") if q.strip()]
    configure(
        container,
        manager={
            "max_workers": concurrency,
            "tasks_per_second": 0,
            "timeout": timeout,
            "max_retries": max_retries,
            "default_queue": default_queue,
        },
        durable={
            "queues": queue_names or None,
            "batch_size": batch_size,
            "prefetch": prefetch_size,
            "lease": lease,
            "renewal_interval": renew,
            "poll_interval": poll,
            "connect_timeout": connect_timeout,
            "node_ttl": node_ttl,
            "result_ttl": result_ttl,
            "results_max_len": results_max_len,
        },
        backend={
            "kind": backend, "redis_url": redis_url, "redis_prefix": redis_prefix, "codec": codec,
            **limit_settings(global_rate_limit, queue_concurrency),
        },
        durable_handlers=handlers,
        telemetry=telemetry_settings(
            "workerctl-worker",
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            traces=traces,
            metrics_exporter=metrics_exporter,
        ),
    )
    code = asyncio.run(serve(container, handlers, keep_finished, setup, schedules))
    click.get_current_context().exit(code)
