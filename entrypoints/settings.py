"""The composition root's settings: the backend as a frozen value, and options turned into config slices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from pyworker.application.config import DURABLE_OPTIONS, MANAGER_OPTIONS
from pyworker.domain import ConfigurationError, WorkerError
from pyworker.domain.limits import DurableLimits
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL, validate_redis_url

#: The key prefix of workerctl, the container and the examples (wrapped as ``{pyworker}``).
DEFAULT_REDIS_PREFIX = "pyworker"
BACKEND_KINDS = ("none", "memory", "redis")
CODECS = ("proto", "json")

C = TypeVar("C", bound=attrs.AttrsInstance)


def _one_of(what: str, choices: tuple[str, ...]) -> Callable[[Any, Any, str], None]:
    def check(_instance: Any, _attribute: Any, value: str) -> None:
        if value not in choices:
            raise ConfigurationError(reason=f"unknown {what} {value!r} (one of {', '.join(choices)})")

    return check


def _redis_url(_instance: Any, _attribute: Any, value: str) -> None:
    validate_redis_url(value)


def _limits(instance: BackendConfig, _attribute: Any, _value: Any) -> None:
    DurableLimits(instance.global_rate_limit, instance.queue_concurrency)  # raises ConfigurationError


@attrs.frozen
class BackendConfig:
    """Which durable backend the container builds, and how it reaches Redis.

    Attributes:
        kind: ``none`` (in-process tasks only), ``memory`` (durable tasks in this
            process) or ``redis``.
        codec: the durable payload codec, ``proto`` (go-worker's bytes) or ``json``.
        redis_url: ``redis://``, ``rediss://`` or ``unix://`` (checked when set).
        redis_prefix: the key prefix, wrapped as ``{prefix}`` unless it contains ``{``.
        global_rate_limit: (rate tokens/s, burst) across every node of the store;
        queue_concurrency: queue -> the most tasks leased at once across every node.
            None leaves that part as the store holds it (docs/cluster.md#limits).
    """

    kind: str = attrs.field(default="none", validator=_one_of("backend", BACKEND_KINDS))
    codec: str = attrs.field(default="proto", validator=_one_of("codec", CODECS))
    redis_url: str = attrs.field(default=DEFAULT_REDIS_URL, validator=_redis_url)
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    global_rate_limit: tuple[float, int] | None = attrs.field(default=None, validator=_limits)
    queue_concurrency: Mapping[str, int] | None = attrs.field(default=None, validator=_limits)


#: The backend keyword options of open_task_manager() -> BackendConfig fields.
BACKEND_OPTIONS = {
    "backend": "kind", "codec": "codec", "redis_url": "redis_url", "redis_prefix": "redis_prefix",
    "global_rate_limit": "global_rate_limit", "queue_concurrency": "queue_concurrency",
}  # fmt: skip


def config_value(cls: type[C], options: Mapping[str, Any] | None, section: str) -> C:
    """``cls(**options)``: a frozen config value from one config slice; absent keys take ``cls``'s defaults.

    Raises:
        ConfigurationError: a key ``cls`` has no field for (the message names it), or a
            value its converters refuse.
    """
    values = dict(options or {})
    unknown = sorted(set(values) - {field.name for field in attrs.fields(cls)})
    if unknown:
        raise ConfigurationError(reason=f"unknown {section} option(s): {', '.join(unknown)}")
    try:
        return cls(**values)
    except WorkerError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(reason=f"invalid {section} option: {exc}") from exc


@attrs.frozen
class Slices:
    """Keyword options sorted into the container's config slices, each keyed by field name."""

    manager: dict[str, Any] = attrs.field(factory=dict)
    durable: dict[str, Any] = attrs.field(factory=dict)
    backend: dict[str, Any] = attrs.field(factory=dict)


def split_options(options: Mapping[str, Any]) -> Slices:
    """TaskManager keyword options (``max_workers``, ``durable_lease``, ...) and the backend
    options (``backend``, ``codec``, ``redis_url``, ``redis_prefix``) as config slices.

    Raises:
        ConfigurationError: an option that is none of these (the message names it).
    """
    slices = Slices()
    unknown = []
    for key, value in options.items():
        if key in MANAGER_OPTIONS:
            slices.manager[key] = value
        elif key in DURABLE_OPTIONS:
            slices.durable[DURABLE_OPTIONS[key]] = value
        elif key in BACKEND_OPTIONS:
            slices.backend[BACKEND_OPTIONS[key]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ConfigurationError(reason=f"unknown option(s): {', '.join(sorted(unknown))}")
    return slices

