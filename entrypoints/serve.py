"""workerctl serve: the gRPC WorkerService (and AdminService) over the container's manager (docs/grpc.md)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

import click

from pyworker.adapters.grpc import (
    GrpcServerConfig,
    GrpcServerOption,
    RedisIdempotencyStore,
    TlsFiles,
    WorkerGrpcServer,
    bearer_token_auth,
    new_grpc_server,
    with_admin_service,
    with_config,
    with_grpc_auth,
    with_idempotency_store,
    with_inspector,
)
from pyworker.application import DurableHandlerSpec, HandlerSpec, TaskManager, TypedHandlerRegistry
from pyworker.application.admin import AdminGuardrails
from pyworker.domain import RetentionPolicy, TaskContext
from pyworker.entrypoints.admin_settings import admin_service, guardrails_from_env
from pyworker.entrypoints.container import Application, configure, task_manager_scope
from pyworker.entrypoints.durations import DURATION
from pyworker.entrypoints.errors import EXIT_USAGE, CliError
from pyworker.entrypoints.limit_options import limit_options, limit_settings
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL, REDIS_URL, redact_url
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX
from pyworker.entrypoints.telemetry_options import telemetry_banner, telemetry_options, telemetry_settings
from pyworker.entrypoints.worker import start
from pyworker.protos.worker.v1 import payload_pb2

DEFAULT_ADDRESS = "127.0.0.1:50051"
#: --backend choices -> the container's backend kind.
BACKENDS = {"memory": "none", "durable-memory": "memory", "redis": "redis"}


def example_handlers() -> TypedHandlerRegistry:
    """The built-in handlers, one per payload message of payload.proto."""
    registry = TypedHandlerRegistry()

    @registry.handler("send_email", payload_pb2.SendEmailPayload)
    async def send_email(_ctx: TaskContext, message: payload_pb2.SendEmailPayload) -> str:
        return f"sent to {message.to}"  # an example: nothing is sent

    return registry


def load_grpc_handlers(spec: str) -> dict[str, HandlerSpec]:
    """Import ``module:attribute``: a TypedHandlerRegistry, a mapping of HandlerSpec, or a callable returning one."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"--app must be module:attribute, got {spec!r}", EXIT_USAGE)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        raise CliError(f"cannot import {module_name!r}: {exc}", EXIT_USAGE) from exc
    except AttributeError:
        raise CliError(f"module {module_name!r} has no attribute {attribute!r}", EXIT_USAGE) from None
    if callable(target) and not isinstance(target, TypedHandlerRegistry | Mapping):
        target = target()
    if isinstance(target, TypedHandlerRegistry):
        return target.handlers()
    if isinstance(target, Mapping) and all(isinstance(v, HandlerSpec) for v in target.values()):
        return dict(target)
    raise CliError(f"{spec} is not a TypedHandlerRegistry or a mapping of HandlerSpec", EXIT_USAGE)


async def serve_until_signalled(
    container: Application,
    handlers: Mapping[str, HandlerSpec],
    options: list[GrpcServerOption],
    grace: float,
    guardrails: AdminGuardrails | None = None,
) -> int:
    """Run the manager and the server until SIGTERM/SIGINT: the first drains for
    ``grace`` seconds (health NOT_SERVING, no new calls, in-flight RPCs and tasks
    finish), a second stops at once. A durable backend gets the AdminService too."""
    guardrails = guardrails if guardrails is not None else AdminGuardrails()
    async with task_manager_scope(container) as manager:
        manager.set_retention_policy(RetentionPolicy(max_entries=10_000))
        await start(manager, container)
        settings = container.backends.settings()
        if settings.kind != "none":
            backend = await container.backends.durable_backend()
            admin = admin_service(backend, manager, guardrails)
            options = [*options, with_inspector(backend), with_admin_service(admin)]
        if settings.kind == "redis":  # every node dedupes against every other
            client = await _resolved(container.backends.redis_client())
            options = [*options, with_idempotency_store(RedisIdempotencyStore(client, settings.redis_prefix))]
        server = new_grpc_server(manager, handlers, *options)
        port = await server.start()
        click.echo(banner(container, server, port, handlers) + telemetry_banner(container), err=True)
        await _run(manager, server, grace)
    click.echo("serve: stopped", err=True)
    return 0


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _run(manager: TaskManager, server: WorkerGrpcServer, grace: float) -> None:
    loop = asyncio.get_running_loop()
    first, second = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if first.is_set():
            click.echo("serve: stopping now", err=True)
            second.set()
        else:
            click.echo(f"serve: draining for up to {grace:g}s (signal again to stop now)", err=True)
            first.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await first.wait()
        await server.set_serving(False)
        drain: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(server.stop(grace), manager.stop_graceful(grace))
        )
        hurry: asyncio.Future[Any] = asyncio.ensure_future(second.wait())
        await asyncio.wait({drain, hurry}, return_when=asyncio.FIRST_COMPLETED)
        if not drain.done():
            await manager.stop_now()
            await server.stop(0)
        hurry.cancel()
        with contextlib.suppress(Exception):
            await drain
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def banner(container: Application, server: WorkerGrpcServer, port: int, handlers: Mapping[str, HandlerSpec]) -> str:
    """The readiness line (the Redis password redacted)."""
    settings = container.backends.settings()
    host = server.config.address.rpartition(":")[0]
    backend = next(name for name, kind in BACKENDS.items() if kind == settings.kind)
    where = f"backend={backend}"
    if settings.kind == "redis":
        where += f" url={redact_url(settings.redis_url)} prefix={settings.redis_prefix}"
    tls = "mtls" if server.config.tls and server.config.tls.client_ca else "tls" if server.config.tls else "off"
    return f"serve ready: address={host}:{port} pid={os.getpid()} handlers={sorted(handlers)} {where} tls={tls}"


@click.command()
@click.option("--address", default=DEFAULT_ADDRESS, show_default=True, envvar="PYWORKER_GRPC_ADDRESS",
              help="host:port to listen on (port 0: any free port).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="memory", show_default=True,
              envvar="PYWORKER_BACKEND",
              help="memory: in-process tasks; durable-memory: durable tasks in this process; redis: durable on Redis.")
@click.option("--redis-url", type=REDIS_URL, default=DEFAULT_REDIS_URL, show_default=True, envvar="PYWORKER_REDIS_URL")
@click.option("--redis-prefix", default=DEFAULT_REDIS_PREFIX, show_default=True, envvar="PYWORKER_REDIS_PREFIX")
@click.option("--app", "app", default=None, envvar="PYWORKER_APP",
              help="module:attribute of your TypedHandlerRegistry (default: the built-in examples).")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--max-tasks", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Tasks that may wait at once (RegisterTasks beyond it: INTERNAL queue full).")
@click.option("--timeout", type=DURATION, default="5m", show_default=True, help="Per-attempt timeout.")
@click.option("--grace", type=DURATION, default="30s", show_default=True, envvar="PYWORKER_GRPC_GRACE",
              help="How long SIGTERM waits for in-flight RPCs and tasks.")
@click.option("--tls-cert", default=None, envvar="PYWORKER_TLS_CERT", help="PEM certificate (enables TLS).")
@click.option("--tls-key", default=None, envvar="PYWORKER_TLS_KEY", help="PEM private key of --tls-cert.")
@click.option("--tls-client-ca", default=None, envvar="PYWORKER_TLS_CLIENT_CA",
              help="PEM CA bundle: clients must present a certificate it signed (mutual TLS).")
@click.option("--auth-token-env", default=None,
              help="Name of an environment variable holding the bearer token clients must send.")
@click.option("--result-ttl", type=DURATION, default="10m", show_default=True,
              help="Durable backends: how long a task's outcome stays readable on every node (GetTask), and "
                   "whether StreamResults sees outcomes settled on other nodes (0: off).")
@click.option("--results-max-len", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Durable backends: the results stream's approximate length cap, in outcomes.")
@click.option("--max-message-bytes", type=click.IntRange(min=1024), default=4 * 1024 * 1024, show_default=True)
@limit_options
@telemetry_options
@click.pass_obj
def serve(
    container: Application,
    address: str,
    backend: str,
    redis_url: str,
    redis_prefix: str,
    app: str | None,
    concurrency: int,
    max_tasks: int,
    timeout: float,
    grace: float,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    auth_token_env: str | None,
    result_ttl: float,
    results_max_len: int,
    max_message_bytes: int,
    global_rate_limit: tuple[float, int] | None,
    queue_concurrency: tuple[tuple[str, int], ...],
    metrics_port: int | None,
    metrics_host: str,
    traces: str | None,
    metrics_exporter: str | None,
) -> None:
    """Serve the gRPC WorkerService (worker.v1), with health and reflection; with a durable
    backend, go-worker's AdminService too (guardrails from PYWORKER_ADMIN_*, docs/grpc.md)."""
    handlers = load_grpc_handlers(app) if app else example_handlers().handlers()
    if bool(tls_cert) != bool(tls_key) or (tls_client_ca and not tls_cert):
        raise CliError("--tls-cert and --tls-key go together (and --tls-client-ca needs them)", EXIT_USAGE)
    tls = TlsFiles(tls_cert, tls_key, tls_client_ca) if tls_cert and tls_key else None
    config = GrpcServerConfig(
        address=address, tls=tls, max_receive_message_bytes=max_message_bytes, max_send_message_bytes=max_message_bytes
    )
    options: list[GrpcServerOption] = [with_config(config)]
    if auth_token_env:
        token = os.environ.get(auth_token_env, "")
        if not token.strip():
            raise CliError(f"--auth-token-env: ${auth_token_env} is empty or unset", EXIT_USAGE)
        options.append(with_grpc_auth(bearer_token_auth([token])))
    kind = BACKENDS[backend]
    configure(
        container,
        manager={"max_workers": concurrency, "max_tasks": max_tasks, "tasks_per_second": 0, "timeout": timeout},
        durable={"result_ttl": result_ttl, "results_max_len": results_max_len},
        backend={
            "kind": kind, "redis_url": redis_url, "redis_prefix": redis_prefix,
            **limit_settings(global_rate_limit, queue_concurrency),
        },
        durable_handlers={name: DurableHandlerSpec(make=s.make, fn=s.fn) for name, s in handlers.items()}
        if kind != "none" else None,
        telemetry=telemetry_settings(
            "workerctl-serve",
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            traces=traces,
            metrics_exporter=metrics_exporter,
        ),
    )
    code = asyncio.run(serve_until_signalled(container, handlers, options, grace, guardrails_from_env()))
    click.get_current_context().exit(code)
