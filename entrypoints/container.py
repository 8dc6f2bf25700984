"""The composition root: dependency-injector containers that wire ports to adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dependency_injector import containers, providers

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.codec import JsonDurableCodec, ProtoDurableCodec
from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.redis.client import new_redis_client
from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.application import NoopTracer, TaskManager

#: Everything new_task_manager() accepts, with pyworker's defaults (SPEC B.2).
DEFAULTS: dict[str, Any] = {
    "manager": {
        "max_workers": 0,
        "max_tasks": 10,
        "tasks_per_second": 5.0,
        "timeout": 300.0,
        "retry_delay": 1.0,
        "max_retries": 3,
        "default_queue": "default",
        "queue_weights": {},
        "sync_workers": None,
        "durable_lease": 30.0,
        "durable_poll_interval": 0.2,
        "durable_batch_size": 16,
        "durable_queues": None,
        "durable_prefetch": 0,
        "durable_lease_renewal_interval": 0.0,
    },
    "backend": {
        "kind": "none",  # none | memory | redis
        "codec": "proto",  # proto | json
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": "pyworker",
    },
}


class Core(containers.DeclarativeContainer):
    """Process-wide basics: the clock and the tracer."""

    config = providers.Configuration()
    clock = providers.Singleton(SystemClock)
    tracer = providers.Singleton(NoopTracer)


class Backends(containers.DeclarativeContainer):
    """The durable backend (none, in-memory or Redis) and its payload codec."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()

    codec = providers.Selector(
        config.codec,
        proto=providers.Singleton(ProtoDurableCodec),
        json=providers.Singleton(JsonDurableCodec),
    )
    durable_backend = providers.Selector(
        config.kind,
        none=providers.Object(None),
        memory=providers.Singleton(InMemoryDurableBackend, clock=core.clock),
        # Until the container owns the client as providers.Resource(redis_client, ...),
        # it is built here and closed with the process (the TaskManager does not close
        # its backend).
        redis=providers.Singleton(
            RedisDurableBackend,
            client=providers.Singleton(new_redis_client, config.redis_url),
            prefix=config.redis_prefix,
            clock=core.clock,
        ),
    )


class Services(containers.DeclarativeContainer):
    """The TaskManager, built from config slices and the other containers."""

    config = providers.Configuration()
    core = providers.DependenciesContainer()
    backends = providers.DependenciesContainer()
    durable_handlers: providers.Object[Any] = providers.Object(None)

    task_manager = providers.Singleton(
        TaskManager,
        max_workers=config.max_workers,
        max_tasks=config.max_tasks,
        tasks_per_second=config.tasks_per_second,
        timeout=config.timeout,
        retry_delay=config.retry_delay,
        max_retries=config.max_retries,
        default_queue=config.default_queue,
        queue_weights=config.queue_weights,
        sync_workers=config.sync_workers,
        clock=core.clock,
        tracer=core.tracer,
        durable_backend=backends.durable_backend,
        durable_handlers=durable_handlers,
        durable_codec=backends.codec,
        durable_lease=config.durable_lease,
        durable_poll_interval=config.durable_poll_interval,
        durable_batch_size=config.durable_batch_size,
        durable_queues=config.durable_queues,
        durable_prefetch=config.durable_prefetch,
        durable_lease_renewal_interval=config.durable_lease_renewal_interval,
    )


class Application(containers.DeclarativeContainer):
    """The root: config sliced per sub-container."""

    config = providers.Configuration()
    core = providers.Container(Core, config=config.core)
    backends = providers.Container(Backends, config=config.backend, core=core)
    services = providers.Container(Services, config=config.manager, core=core, backends=backends)


def build_container(
    manager: Mapping[str, Any] | None = None,
    backend: Mapping[str, Any] | None = None,
    durable_handlers: Any = None,
) -> Application:
    """An Application container with DEFAULTS overlaid by ``manager`` and ``backend``."""
    container = Application()
    container.config.from_dict(
        {
            "core": {},
            "manager": {**DEFAULTS["manager"], **(manager or {})},
            "backend": {**DEFAULTS["backend"], **(backend or {})},
        }
    )
    if durable_handlers is not None:
        container.services.durable_handlers.override(providers.Object(durable_handlers))
    return container


_BACKEND_KEYS = {"backend": "kind", "codec": "codec", "redis_url": "redis_url", "redis_prefix": "redis_prefix"}


def new_task_manager(*, durable_handlers: Any = None, **options: Any) -> TaskManager:
    """A fully wired TaskManager.

    Manager options are TaskManager's keyword arguments; backend options are
    ``backend`` ("none", "memory" or "redis"), ``codec`` ("proto" or "json"),
    ``redis_url`` and ``redis_prefix``. Nothing connects until the manager starts.

    Raises:
        KeyError: an unknown option (the message names it).
    """
    backend = {_BACKEND_KEYS[key]: options.pop(key) for key in list(options) if key in _BACKEND_KEYS}
    unknown = sorted(set(options) - set(DEFAULTS["manager"]))
    if unknown:
        raise KeyError(f"unknown option(s): {', '.join(unknown)}")
    manager: TaskManager = build_container(options, backend, durable_handlers).services.task_manager()
    return manager


def new_task_manager_with_defaults() -> TaskManager:
    """go-worker's NewTaskManagerWithDefaults: CPUs workers, 10 tasks, 5/s, 5 min, 1 s, 3 retries."""
    return new_task_manager()
