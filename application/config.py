"""Configuration as values: the TaskManager's and durable mode's settings, defaults in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pyworker.domain import (
    DEFAULT_LEASE,
    DEFAULT_NODE_TTL,
    DEFAULT_QUEUE,
    DEFAULT_RESULT_TTL,
    DEFAULT_RESULTS_MAX_LEN,
    ConfigurationError,
    Duration,
    normalize_queue,
    normalize_queue_weights,
    to_seconds,
)

DEFAULT_MAX_TASKS = 10
DEFAULT_TASKS_PER_SECOND = 5.0
DEFAULT_TIMEOUT = 300.0
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_POLL_INTERVAL = 0.2
#: The largest batch a node asks for when the batch follows its worker count: one
#: dequeue script of this many leases keeps Redis busy for one to two milliseconds,
#: and larger batches drained no faster in bench/durable.py (docs/durable.md#tuning).
MAX_AUTO_BATCH = 64


def _workers(value: int) -> int:
    return value if value > 0 else (os.cpu_count() or 1)


def _max_tasks(value: int) -> int:
    return value if value > 0 else DEFAULT_MAX_TASKS


def _rate(value: float) -> float:
    return float(value) if value > 0 else 0.0


def _seconds_or(value: Duration, default: float) -> float:
    seconds = to_seconds(value)
    return seconds if seconds > 0 else default


def _timeout(value: Duration) -> float:
    return _seconds_or(value, DEFAULT_TIMEOUT)


def _retry_delay(value: Duration) -> float:
    return _seconds_or(value, DEFAULT_RETRY_DELAY)


def _lease(value: Duration) -> float:
    return _seconds_or(value, DEFAULT_LEASE)


def _poll_interval(value: Duration) -> float:
    return _seconds_or(value, DEFAULT_POLL_INTERVAL)


def _non_negative_seconds(value: Duration) -> float:
    seconds = to_seconds(value)
    return seconds if seconds > 0 else 0.0


def _max_retries(value: int) -> int:
    return value if value >= 0 else DEFAULT_MAX_RETRIES


def _weights(value: Mapping[str, int] | None) -> dict[str, int]:
    return normalize_queue_weights(value)


def _non_negative(value: int) -> int:
    return max(value, 0)


def _optional_count(value: int | None) -> int | None:
    return value if value is not None and value > 0 else None


def _results_max_len(value: int) -> int:
    return value if value > 0 else DEFAULT_RESULTS_MAX_LEN


def _queues(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(normalize_queue(q) for q in value) if value else None


@attrs.frozen
class ManagerConfig:
    """The TaskManager's settings (go-worker's ``NewTaskManager`` arguments and options).

    Out-of-range values take go-worker's defaults as they are set, so a config is
    always valid: workers <= 0 means the number of CPUs, ``max_tasks`` <= 0 means 10,
    ``tasks_per_second`` <= 0 means unlimited, ``timeout`` and ``retry_delay`` <= 0
    mean 5 minutes and 1 s, ``max_retries`` < 0 means 3.

    Attributes:
        max_workers: concurrent attempts.
        max_tasks: how many tasks may wait, ready or delayed.
        tasks_per_second: dispatch rate, shared with execute_task; the bucket holds
            min(max_workers, max_tasks) tokens and starts full.
        timeout: default per-attempt timeout in seconds.
        retry_delay: default base retry delay in seconds.
        max_retries: cap on every task's retries (0 disables retries).
        default_queue: the queue of tasks registered without one.
        queue_weights: inter-queue weights for weighted round robin.
        sync_workers: threads for plain ``def`` task functions (None: max_workers).
    """

    max_workers: int = attrs.field(default=0, converter=_workers)
    max_tasks: int = attrs.field(default=DEFAULT_MAX_TASKS, converter=_max_tasks)
    tasks_per_second: float = attrs.field(default=DEFAULT_TASKS_PER_SECOND, converter=_rate)
    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, converter=_timeout)
    retry_delay: float = attrs.field(default=DEFAULT_RETRY_DELAY, converter=_retry_delay)
    max_retries: int = attrs.field(default=DEFAULT_MAX_RETRIES, converter=_max_retries)
    default_queue: str = attrs.field(default=DEFAULT_QUEUE, converter=normalize_queue)
    queue_weights: Mapping[str, int] = attrs.field(factory=dict, converter=_weights)
    sync_workers: int | None = attrs.field(default=None, converter=_optional_count)


@attrs.frozen
class DurableConfig:
    """Durable mode's settings for one worker node.

    Attributes:
        lease: how long a dequeued task stays leased to this node (<= 0: 30 s).
        poll_interval: the longest an idle node waits for a wake-up before asking
            again, and the base of the retry backoff while the backend is away (<= 0: 0.2 s).
        batch_size: leases asked for per dequeue (<= 0, the default: as many as there
            are workers, at most MAX_AUTO_BATCH; see ``batch_for``).
        queues: the queues this node leases from (None: all).
        prefetch: leases held beyond the running ones, so the next batch is local.
        renewal_interval: how often running leases are extended (0: never; at or
            above the lease it becomes half the lease).
        connect_timeout: how long ``start()`` retries a backend that does not answer
            before it raises BackendUnavailableError (0: one try).
        node_ttl: how long this node's record in the node registry outlives its last
            heartbeat; it beats every third of it (0: no heartbeats; docs/cluster.md#nodes).
        node_id: this node's id in the registry and on the outcomes it records
            (None: ``host-pid-random``).
        result_ttl: how long a settled task's outcome is kept in the store, for
            ``get_result`` and gRPC ``GetTask`` on any node; each outcome also goes on
            the results stream every node's subscribers read (0: neither; docs/cluster.md#results).
        results_max_len: the results stream's approximate cap, in entries (<= 0: 10,000).
    """

    lease: float = attrs.field(default=DEFAULT_LEASE, converter=_lease)
    poll_interval: float = attrs.field(default=DEFAULT_POLL_INTERVAL, converter=_poll_interval)
    batch_size: int = attrs.field(default=0, converter=_non_negative)
    queues: tuple[str, ...] | None = attrs.field(default=None, converter=_queues)
    prefetch: int = attrs.field(default=0, converter=_non_negative)
    renewal_interval: float = attrs.field(default=0.0, converter=_non_negative_seconds)
    connect_timeout: float = attrs.field(default=0.0, converter=_non_negative_seconds)
    node_ttl: float = attrs.field(default=DEFAULT_NODE_TTL, converter=_non_negative_seconds)
    node_id: str | None = attrs.field(default=None, converter=attrs.converters.optional(str))
    result_ttl: float = attrs.field(default=DEFAULT_RESULT_TTL, converter=_non_negative_seconds)
    results_max_len: int = attrs.field(default=DEFAULT_RESULTS_MAX_LEN, converter=_results_max_len)

    def batch_for(self, workers: int) -> int:
        """The batch size a node with ``workers`` workers asks for: ``batch_size``, or
        when it is 0 the worker count (at most MAX_AUTO_BATCH), so one dequeue can
        fill every free worker (docs/durable.md, tuning).
        """
        if self.batch_size > 0:
            return self.batch_size
        return max(1, min(workers, MAX_AUTO_BATCH))

    @property
    def renew_every(self) -> float:
        """The renewal period actually used (0: renewal off)."""
        if self.renewal_interval <= 0:
            return 0.0
        return self.lease / 2 if self.renewal_interval >= self.lease else self.renewal_interval


#: The TaskManager keyword arguments that build a ManagerConfig / a DurableConfig.
MANAGER_OPTIONS = frozenset(f.name for f in attrs.fields(ManagerConfig))
DURABLE_OPTIONS = {
    "durable_lease": "lease",
    "durable_poll_interval": "poll_interval",
    "durable_batch_size": "batch_size",
    "durable_queues": "queues",
    "durable_prefetch": "prefetch",
    "durable_lease_renewal_interval": "renewal_interval",
    "durable_connect_timeout": "connect_timeout",
    "durable_node_ttl": "node_ttl",
    "durable_result_ttl": "result_ttl",
    "durable_results_max_len": "results_max_len",
}


def build_configs(
    config: ManagerConfig | None, durable_config: DurableConfig | None, options: Mapping[str, Any]
) -> tuple[ManagerConfig, DurableConfig]:
    """The configs a TaskManager runs with: the given ones, or built from keyword options.

    Raises:
        ConfigurationError: a config object and keyword options for it were both given.
    """
    manager_options = {k: v for k, v in options.items() if k in MANAGER_OPTIONS and v is not _UNSET}
    durable_options = {DURABLE_OPTIONS[k]: v for k, v in options.items() if k in DURABLE_OPTIONS and v is not _UNSET}
    if config is not None and manager_options:
        raise ConfigurationError(reason=f"pass either config= or {', '.join(sorted(manager_options))}, not both")
    if durable_config is not None and durable_options:
        given = sorted(k for k in options if k in DURABLE_OPTIONS and options[k] is not _UNSET)
        raise ConfigurationError(reason=f"pass either durable_config= or {', '.join(given)}, not both")
    return config or ManagerConfig(**manager_options), durable_config or DurableConfig(**durable_options)


class _Unset:
    """The default of a TaskManager keyword option: not given, so the config's default applies."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
UNSET: Any = _UNSET
