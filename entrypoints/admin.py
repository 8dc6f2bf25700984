"""workerctl admin: the web admin page over a durable store on Redis (docs/admin.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import click

from pyworker.application import DurableHandlerSpec, DurableInspector
from pyworker.application.admin import (
    AdminGuardrails,
    DurableAdmin,
    HistorySampler,
    HistoryStoreProvider,
)
from pyworker.application.admin.history import SAMPLE_INTERVAL
from pyworker.application.clock import LoopClock
from pyworker.application.ports import NodeRegistryProvider
from pyworker.application.schedules import ScheduleAdmin, ScheduleStoreProvider
from pyworker.domain import ConfigurationError
from pyworker.entrypoints.admin_server import AdminServer, Listen, check_tls, is_loopback, parse_listen
from pyworker.entrypoints.admin_settings import admin_service, guardrails_from_env
from pyworker.entrypoints.container import Application, configure, task_manager_scope
from pyworker.entrypoints.durations import DURATION
from pyworker.entrypoints.errors import EXIT_USAGE, CliError
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL, REDIS_URL, redact_url
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX
from pyworker.entrypoints.worker import ScheduleSetup, add_schedules, load_handlers, load_schedules

if TYPE_CHECKING:

    from pyworker.adapters.web import AdminPageData, AdminWebConfig

DEFAULT_LISTEN = "127.0.0.1:8080"
FILE = click.Path(exists=True, dir_okay=False)


@contextlib.asynccontextmanager
async def open_admin_data(
    container: Application,
    redis_url: str,
    redis_prefix: str,
    *,
    handlers: Mapping[str, DurableHandlerSpec] | None = None,
    schedules: ScheduleSetup | None = None,
    schedules_spec: str | None = None,
    guardrails: AdminGuardrails | None = None,
    history_interval: float = SAMPLE_INTERVAL,
    codec: str = "proto",
) -> AsyncIterator[AdminPageData]:
    """The page's data over the container's Redis backend, checked with a PING; closed on exit.

    The AdminService is built as ``workerctl serve`` builds it, so every action from the page
    is audited. With ``handlers`` and ``schedules`` (the workers' ``--app`` and
    ``--schedules``, and their ``--codec``), a TaskManager that is never started holds the schedules, to list them
    and run them now; this process never leases a task. While the block runs, the store's
    depths and throughput are sampled every ``history_interval`` seconds (docs/admin.md "Charts").

    Raises:
        BackendUnavailableError: Redis does not answer.
        CliError: the schedules' setup failed (exit 2).
    """
    from pyworker.adapters.web import AdminPageData

    backend_settings = {"kind": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "codec": codec}
    configure(container, backend=backend_settings, durable_handlers=dict(handlers or {}))
    async with task_manager_scope(container) as manager:
        backend = await container.backends.durable_backend()
        await backend.ping()
        await add_schedules(manager, schedules, schedules_spec)
        service = admin_service(backend, manager, guardrails if guardrails is not None else AdminGuardrails())
        nodes = backend.node_registry() if isinstance(backend, NodeRegistryProvider) else None
        store = ScheduleAdmin(backend.schedule_store()) if isinstance(backend, ScheduleStoreProvider) else None
        sampler = None
        if isinstance(backend, HistoryStoreProvider) and isinstance(backend, DurableInspector):
            sampler = HistorySampler(backend, backend.admin_history(), LoopClock(), interval=history_interval)
        data = AdminPageData(service, DurableAdmin(backend), nodes, store, sampler,
                             registered_schedules=schedules is not None)  # fmt: skip
        sampling = asyncio.get_running_loop().create_task(sampler.run()) if sampler is not None else None
        try:
            yield data
        finally:
            if sampling is not None:
                sampling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampling


async def serve_admin(
    container: Application, redis_url: str, redis_prefix: str, settings: AdminWebConfig, listen: Listen,
    **wiring: Any,
) -> None:
    """Serve until SIGTERM/SIGINT; ``wiring`` goes to ``open_admin_data`` (handlers, schedules, guardrails)."""
    async with open_admin_data(container, redis_url, redis_prefix, **wiring) as data:
        server = AdminServer(data, settings, listen, admin=data.service)

        def ready(url: str) -> None:
            mode = " read-only" if settings.read_only else ""
            store = f"{redact_url(redis_url)} prefix={redis_prefix}"
            click.echo(f"admin ready on {url}{mode} (store {store}, pid {os.getpid()})", err=True)

        await server.run(ready)
    click.echo("admin: stopped", err=True)


def web_settings(**fields: Any) -> AdminWebConfig:
    """AdminWebConfig from the flags; a missing extra or a refused value is a one-line error."""
    try:
        from pyworker.adapters.web import AdminWebConfig
    except ImportError as exc:
        raise CliError(f"the admin page needs the admin extra (pip install 'pyworker[admin]'): {exc}") from exc
    try:
        return AdminWebConfig(**fields)
    except ConfigurationError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


@click.command()
@click.option("--redis-url", type=REDIS_URL, default=DEFAULT_REDIS_URL, show_default=True, envvar="PYWORKER_REDIS_URL")
@click.option("--redis-prefix", default=DEFAULT_REDIS_PREFIX, show_default=True, envvar="PYWORKER_REDIS_PREFIX")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, envvar="PYWORKER_ADMIN_LISTEN",
              metavar="HOST:PORT", help="Address to serve on (port 0: any free port).")
@click.option("--password", default=None, envvar="PYWORKER_ADMIN_PASSWORD", metavar="TEXT",
              help="Password for the sign-in form (better in $PYWORKER_ADMIN_PASSWORD).")
@click.option("--token", default=None, envvar="PYWORKER_ADMIN_TOKEN", metavar="TEXT",
              help="Token for the sign-in form and for `Authorization: Bearer` (better in $PYWORKER_ADMIN_TOKEN).")
@click.option("--tls-cert", type=FILE, default=None, envvar="PYWORKER_ADMIN_TLS_CERT",
              help="PEM certificate: serve HTTPS (with --tls-key); the session cookie becomes Secure.")
@click.option("--tls-key", type=FILE, default=None, envvar="PYWORKER_ADMIN_TLS_KEY",
              help="PEM private key of --tls-cert.")
@click.option("--read-only", is_flag=True, help="Show everything, change nothing (every action is refused).")
@click.option("--refresh", type=DURATION, default="2s", show_default=True,
              help="How often the overview's live figures update.")
@click.option("--allow-plain-http", is_flag=True,
              help="Listen on a non-loopback address without TLS (behind a TLS-terminating proxy only).")
@click.option("--app", "app", default=None,
              help="module:attribute of the workers' TypedDurableRegistry (with --schedules: run now).")
@click.option("--schedules", "schedules", default=None,
              help="module:attribute of the workers' schedule setup: list the schedules, run them now.")
@click.option("--codec", type=click.Choice(["proto", "json"]), default="proto", show_default=True,
              help="The workers' payload codec (with --app: how a run-now's payload is checked).")
@click.pass_obj
def admin(
    container: Application,
    redis_url: str,
    redis_prefix: str,
    listen: str,
    password: str | None,
    token: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    read_only: bool,
    refresh: float,
    allow_plain_http: bool,
    app: str | None,
    schedules: str | None,
    codec: str,
) -> None:
    """Serve the web admin page: queues, tasks, the DLQ, schedules, nodes, the audit log (docs/admin.md)."""
    host, port = parse_listen(listen)
    if bool(tls_cert) != bool(tls_key):
        raise CliError("--tls-cert and --tls-key go together", EXIT_USAGE)
    if tls_cert and tls_key:
        check_tls(tls_cert, tls_key)
    if not (password or "").strip() and not (token or "").strip():
        raise CliError("set --password or --token (or $PYWORKER_ADMIN_PASSWORD / $PYWORKER_ADMIN_TOKEN)", EXIT_USAGE)
    if not is_loopback(host) and not tls_cert:
        if not allow_plain_http:
            raise CliError(
                f"--listen {listen} is not a loopback address: serve TLS (--tls-cert, --tls-key) "
                "or pass --allow-plain-http behind a TLS proxy",
                EXIT_USAGE,
            )
        click.echo(f"admin: warning: serving plain HTTP on {listen}; passwords and cookies cross the network", err=True)
    if refresh <= 0:
        raise CliError("--refresh must be positive", EXIT_USAGE)
    settings = web_settings(
        password=(password or "").strip(), token=(token or "").strip(), read_only=read_only,
        secure_cookies=bool(tls_cert), events_interval=refresh,
    )  # fmt: skip
    if schedules and not app:
        raise CliError("--schedules needs --app (the handlers its tasks run on)", EXIT_USAGE)
    wiring = {
        "handlers": load_handlers(app) if app else None, "schedules": load_schedules(schedules),
        "schedules_spec": schedules, "guardrails": guardrails_from_env(), "codec": codec,
    }  # fmt: skip
    where = Listen(host, port, tls_cert, tls_key)
    asyncio.run(serve_admin(container, redis_url, redis_prefix, settings, where, **wiring))

