"""The composition root: dependency-injector containers that wire ports to adapters and own their lifecycles."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Mapping
from typing import Any

from dependency_injector import containers, providers

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.codec import JsonDurableCodec, ProtoDurableCodec
from pyworker.application import TaskManager
from pyworker.application.config import DurableConfig, ManagerConfig
from pyworker.domain import ConfigurationError
from pyworker.entrypoints.resources import open_memory_backend, open_redis_backend, redis_client
from pyworker.entrypoints.settings import BackendConfig, config_value, split_options
from pyworker.entrypoints.telemetry import (
    TelemetryConfig,
    build_meter,
    build_tracer,
    open_durable_metrics,
    open_meter_provider,
    open_tracer_provider,
    otel_meter_factory,
)


class Core(containers.DeclarativeContainer):
    """Process-wide basics: the clock and telemetry (the OpenTelemetry providers are
    Resources, never set globally; the tracer and meter are built on them).
    """

    config = providers.Configuration()
    clock = providers.Singleton(SystemClock)
    telemetry = providers.Singleton(config_value, TelemetryConfig, config.telemetry, "telemetry")
    tracer_provider = providers.Resource(open_tracer_provider, telemetry)
    meter_provider = providers.Resource(open_meter_provider, telemetry)
    tracer = providers.Singleton(build_tracer, tracer_provider)
    meter = providers.Singleton(build_meter, meter_provider, telemetry)
    meter_factory = providers.Object(otel_meter_factory)


class Backends(containers.DeclarativeContainer):
    """The durable backend (none, in-memory or Redis), the Redis client and the payload codec.

    The client and the backends are Resources: built on first use, closed by
    ``shutdown_resources()`` (a backend before the client it runs on).
    """

    config = providers.Configuration()
    core = providers.DependenciesContainer()

    settings = providers.Singleton(config_value, BackendConfig, config, "backend")
    codec = providers.Selector(
        settings.provided.codec,
        proto=providers.Singleton(ProtoDurableCodec),
        json=providers.Singleton(JsonDurableCodec),
    )
    redis_client = providers.Resource(redis_client, url=settings.provided.redis_url)
    durable_backend = providers.Selector(
        settings.provided.kind,
        none=providers.Object(None),
        memory=providers.Resource(
            open_memory_backend,
            clock=core.clock,
            global_rate_limit=settings.provided.global_rate_limit,
            queue_concurrency=settings.provided.queue_concurrency,
        ),
        redis=providers.Resource(
            open_redis_backend,
            client=redis_client,
            prefix=settings.provided.redis_prefix,
            clock=core.clock,
            global_rate_limit=settings.provided.global_rate_limit,
            queue_concurrency=settings.provided.queue_concurrency,
        ),
    )


class Services(containers.DeclarativeContainer):
    """The TaskManager, built from the frozen config values of its slices and the other containers."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    backends = providers.DependenciesContainer()
    durable_handlers: providers.Object[Any] = providers.Object(None)

    manager_config = providers.Singleton(config_value, ManagerConfig, config.manager, "manager")
    durable_config = providers.Singleton(config_value, DurableConfig, config.durable, "durable")
    durable_metrics = providers.Resource(
        open_durable_metrics, handle=core.meter_provider, backend=backends.durable_backend, settings=core.telemetry
    )
    task_manager = providers.Singleton(
        TaskManager,
        config=manager_config,
        durable_config=durable_config,
        clock=core.clock,
        tracer=core.tracer,
        meter=core.meter,
        meter_factory=core.meter_factory,
        durable_backend=backends.durable_backend,
        durable_handlers=durable_handlers,
        durable_codec=backends.codec,
    )


class Application(containers.DeclarativeContainer):
    """The root, with the config sliced per sub-container.

    ``config = {"core": {"telemetry": {TelemetryConfig fields}}, "backends": {BackendConfig
    fields}, "services": {"manager": {ManagerConfig fields}, "durable": {DurableConfig
    fields}}}``; an absent key takes the value class's default.
    """

    config = providers.Configuration()
    core = providers.Container(Core, config=config.core)
    backends = providers.Container(Backends, config=config.backends, core=core)
    services = providers.Container(Services, config=config.services, core=core, backends=backends)


def build_container(
    manager: Mapping[str, Any] | None = None,
    durable: Mapping[str, Any] | None = None,
    backend: Mapping[str, Any] | None = None,
    durable_handlers: Any = None,
    telemetry: Mapping[str, Any] | None = None,
) -> Application:
    """An Application container; nothing is built or connected yet.

    Args:
        manager: ManagerConfig fields (``max_workers``, ``timeout``, ...).
        durable: DurableConfig fields (``lease``, ``batch_size``, ``connect_timeout``, ...).
        backend: BackendConfig fields (``kind``, ``codec``, ``redis_url``, ``redis_prefix``,
            ``global_rate_limit``, ``queue_concurrency``).
        durable_handlers: a TypedDurableRegistry or a mapping of DurableHandlerSpec.
        telemetry: TelemetryConfig fields (``traces``, ``metrics``, ``metrics_port``, ...).

    The manager and the backend may be async (a backend is a Resource), so their
    providers always return an awaitable: ``manager = await
    container.services.task_manager()``. ``await container.shutdown_resources()``
    closes what was opened (stop the manager first), or use ``task_manager_scope``.

    Raises:
        ConfigurationError: an unknown setting (the message names it) or a refused value.
    """
    container = Application()
    # Set on the instance: a declarative container's copies do not keep the async mode.
    container.backends.durable_backend.enable_async_mode()
    container.services.task_manager.enable_async_mode()
    container.services.durable_metrics.enable_async_mode()
    return configure(
        container,
        manager=manager,
        durable=durable,
        backend=backend,
        durable_handlers=durable_handlers,
        telemetry=telemetry,
    )


def configure(
    container: Application,
    *,
    manager: Mapping[str, Any] | None = None,
    durable: Mapping[str, Any] | None = None,
    backend: Mapping[str, Any] | None = None,
    durable_handlers: Any = None,
    telemetry: Mapping[str, Any] | None = None,
) -> Application:
    """Overlay settings on a container that has not built its manager yet (workerctl's flags).

    Each slice is checked at once, so a bad setting fails here and not at first use.

    Raises:
        ConfigurationError: an unknown setting (the message names it) or a refused value.
    """
    container.config.from_dict(
        {
            "core": {"telemetry": dict(telemetry or {})},
            "backends": dict(backend or {}),
            "services": {"manager": dict(manager or {}), "durable": dict(durable or {})},
        }
    )
    config_value(TelemetryConfig, container.config.core.telemetry(), "telemetry").exporters()
    config_value(ManagerConfig, container.config.services.manager(), "manager")
    config_value(DurableConfig, container.config.services.durable(), "durable")
    config_value(BackendConfig, container.config.backends(), "backend")
    if durable_handlers is not None:
        container.services.durable_handlers.override(providers.Object(durable_handlers))
    return container


async def shutdown(container: Application) -> None:
    """Close every resource the container opened, dependents first (none opened: nothing to do)."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):
        await closing


@contextlib.asynccontextmanager
async def task_manager_scope(container: Application) -> AsyncIterator[TaskManager]:
    """The container's manager for the length of a block.

    The manager is not started (a producer never starts it; ``await manager.start()``
    or ``async with manager`` to run tasks). On exit it is stopped with ``stop_now()``
    (a no-op after a graceful stop), then the container's resources are shut down:
    the backend, then the Redis client.
    """
    manager: TaskManager | None = None
    try:
        manager = await container.services.task_manager()
        durable_metrics = await container.services.durable_metrics()
        if durable_metrics is not None:
            manager.add_listener(durable_metrics)
        yield manager
    finally:
        try:
            if manager is not None:
                await manager.stop_now()
        finally:
            await shutdown(container)


@contextlib.asynccontextmanager
async def open_task_manager(
    *, durable_handlers: Any = None, telemetry: Mapping[str, Any] | None = None, **options: Any
) -> AsyncIterator[TaskManager]:
    """A fully wired TaskManager whose backend is closed when the block ends.

        async with open_task_manager(backend="redis", redis_url=url, durable_handlers=registry) as tm:
            await tm.register_durable_task(task)

    Options are TaskManager's keyword arguments (``max_workers``, ...,
    ``durable_lease``, ``durable_connect_timeout``) and the backend's: ``backend``
    ("none", "memory" or "redis"), ``codec`` ("proto" or "json"), ``redis_url``,
    ``redis_prefix``, ``global_rate_limit`` and ``queue_concurrency`` (docs/cluster.md#limits);
    ``telemetry`` takes TelemetryConfig fields (docs/observability.md).
    See ``task_manager_scope`` for what happens on exit (the telemetry providers are
    flushed and shut down with the other resources).

    Raises:
        ConfigurationError: an unknown option (the message names it) or a refused value.
    """
    slices = split_options(options)
    container = build_container(slices.manager, slices.durable, slices.backend, durable_handlers, telemetry)
    async with task_manager_scope(container) as manager:
        yield manager


def new_task_manager(**options: Any) -> TaskManager:
    """go-worker's NewTaskManagerWithOptions: an in-process TaskManager (nothing to close).

    ``set_tracer(OtelTracer(provider))`` and ``set_meter_provider(provider)`` work on it.

    Options are the ManagerConfig ones (``max_workers``, ``max_tasks``,
    ``tasks_per_second``, ``timeout``, ``retry_delay``, ``max_retries``,
    ``default_queue``, ``queue_weights``, ``sync_workers``). A durable manager owns a
    backend (and maybe a Redis connection) that must be closed: build it with
    ``async with open_task_manager(...)``.

    Raises:
        ConfigurationError: an unknown option, or a durable one (the message names it).
    """
    slices = split_options({key: value for key, value in options.items() if key != "durable_handlers"})
    durable = sorted(key for key in options if key not in slices.manager)
    if durable:
        raise ConfigurationError(
            reason=f"new_task_manager() builds an in-process manager; for {', '.join(durable)} "
            "use `async with open_task_manager(...)`, which closes the backend"
        )
    container = build_container(slices.manager)
    return TaskManager(
        config=container.services.manager_config(),
        clock=container.core.clock(),
        meter_factory=container.core.meter_factory(),
    )


def new_task_manager_with_defaults() -> TaskManager:
    """go-worker's NewTaskManagerWithDefaults: CPUs workers, 10 tasks, 5/s, 5 min, 1 s, 3 retries."""
    return new_task_manager()
