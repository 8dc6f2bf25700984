"""The cluster-wide limit options ``workerctl worker`` and ``workerctl serve`` share (docs/cluster.md#limits)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from pyworker.domain import ConfigurationError
from pyworker.domain.limits import DurableLimits

F = TypeVar("F", bound=Callable[..., Any])


def parse_rate_limit(text: str) -> tuple[float, int]:
    """``RATE[:BURST]`` as (rate, burst); the burst defaults to the rate rounded up.

    Raises:
        ValueError: not that form, or out of range (rate > 0, burst >= 1).
    """
    rate_text, _, burst_text = text.strip().partition(":")
    try:
        rate = float(rate_text)
        burst = int(burst_text) if burst_text else math.ceil(rate) if math.isfinite(rate) and rate > 0 else 0
    except ValueError:
        raise ValueError(f"{text!r} is not RATE[:BURST] (e.g. 50 or 50:10)") from None
    try:
        return DurableLimits((rate, burst)).global_rate or (rate, burst)
    except ConfigurationError as exc:
        raise ValueError(exc.reason) from None


def parse_queue_limit(text: str) -> tuple[str, int]:
    """``QUEUE=N`` as (queue, N).

    Raises:
        ValueError: not that form, or N < 1, or a blank queue.
    """
    queue, sep, count = text.partition("=")
    try:
        limit = int(count)
    except ValueError:
        raise ValueError(f"{text!r} is not QUEUE=N (e.g. emails=3)") from None
    if not sep:
        raise ValueError(f"{text!r} is not QUEUE=N (e.g. emails=3)")
    try:
        [(name, value)] = DurableLimits(None, {queue: limit}).queue_concurrency.items()
    except ConfigurationError as exc:
        raise ValueError(exc.reason) from None
    return name, value


class RateLimitType(click.ParamType[tuple[float, int]]):
    name = "rate[:burst]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_rate_limit(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class QueueLimitType(click.ParamType[tuple[str, int]]):
    name = "queue=n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_queue_limit(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_OPTIONS = (
    click.option("--global-rate-limit", type=RateLimitType(), default=None,
                 help="Leases per second across every node on this prefix, as RATE[:BURST] (e.g. 50:10; burst "
                      "default: the rate rounded up). Stored in Redis for every node when this one starts."),
    click.option("--queue-concurrency", type=QueueLimitType(), multiple=True,
                 help="QUEUE=N: at most N tasks of QUEUE leased at once across every node (repeatable). The set "
                      "given replaces the stored one when this node starts."),
)  # fmt: skip


def limit_options(command: F) -> F:
    """Add ``--global-rate-limit`` and ``--queue-concurrency`` to a command: its function gets
    ``global_rate_limit`` and ``queue_concurrency``."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def limit_settings(
    global_rate_limit: tuple[float, int] | None, queue_concurrency: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """The container's BackendConfig fields for the options of ``limit_options``: a flag left out
    leaves its part of the stored limits alone (None)."""
    caps = dict(queue_concurrency)
    if len(caps) != len(queue_concurrency):
        repeated = sorted({q for q, _ in queue_concurrency if sum(1 for name, _ in queue_concurrency if name == q) > 1})
        raise click.BadParameter(f"queue {', '.join(repeated)} given twice", param_hint="'--queue-concurrency'")
    return {"global_rate_limit": global_rate_limit, "queue_concurrency": caps or None}
