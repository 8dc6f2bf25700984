"""Cluster-wide durable limits: a global token bucket and per-queue lease caps (docs/cluster.md#limits)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from pyworker.domain.errors import ConfigurationError


def _rate(value: tuple[float, int] | None) -> tuple[float, int] | None:
    if value is None:
        return None
    try:
        rate, burst = value
        rate, burst_number = float(rate), float(burst)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(reason=f"global_rate_limit must be (rate, burst), not {value!r}") from exc
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigurationError(reason=f"global rate limit: the rate must be > 0 tasks/s, not {rate:g}")
    if burst_number != int(burst_number) or burst_number < 1:
        raise ConfigurationError(reason=f"global rate limit: the burst must be a whole number >= 1, not {burst!r}")
    return rate, int(burst_number)


def _concurrency(value: Mapping[str, int] | None) -> dict[str, int]:
    result: dict[str, int] = {}
    for name, limit in (value or {}).items():
        queue = name.strip() if isinstance(name, str) else ""
        if not queue or any(ch.isspace() or not ch.isprintable() for ch in queue):
            raise ConfigurationError(reason=f"queue concurrency: {name!r} is not a queue name")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(
                reason=f"queue concurrency of {queue!r} must be a whole number >= 1, not {limit!r}"
            )
        result[queue] = limit
    return result


@attrs.frozen
class DurableLimits:
    """What a durable backend enforces across every node on one store, atomically with each lease.

    Attributes:
        global_rate: (rate tokens/s, burst): at most ``burst`` leases at once, then
            ``rate`` per second, over every queue and node; None: no rate limit.
        queue_concurrency: queue -> the most tasks of that queue leased at once.

    Raises:
        ConfigurationError: rate <= 0, burst < 1, a limit < 1 or a blank queue name.
    """

    global_rate: tuple[float, int] | None = attrs.field(default=None, converter=_rate)
    queue_concurrency: Mapping[str, int] = attrs.field(factory=dict, converter=_concurrency)

    @property
    def empty(self) -> bool:
        return self.global_rate is None and not self.queue_concurrency


@attrs.frozen
class TokenBucket:
    """go-worker's global bucket (``WithRedisDurableGlobalRateLimit``), taken only for granted leases.

    ``tokens`` may be fractional; ``at_ms`` is the time they were counted. Pure: the
    caller passes ``now_ms``. A missing bucket is a full one.
    """

    rate: float
    burst: int
    tokens: float
    at_ms: int

    @classmethod
    def full(cls, rate: float, burst: int, now_ms: int) -> TokenBucket:
        return cls(rate, burst, float(burst), now_ms)

    def refilled(self, now_ms: int) -> TokenBucket:
        """The bucket at ``now_ms``: ``min(burst, tokens + elapsed s x rate)``."""
        elapsed = max(0, now_ms - self.at_ms)
        tokens = min(float(self.burst), self.tokens + elapsed * self.rate / 1000)
        return attrs.evolve(self, tokens=tokens, at_ms=max(now_ms, self.at_ms))

    @property
    def available(self) -> int:
        return max(0, math.floor(self.tokens))

    def take(self, count: int) -> TokenBucket:
        return attrs.evolve(self, tokens=self.tokens - count)

    def next_token_ms(self) -> int:
        """When the next whole token is there (``at_ms`` when one already is)."""
        missing = 1 - self.tokens
        return self.at_ms if missing <= 0 else self.at_ms + math.ceil(missing * 1000 / self.rate)


def bucket_ttl_ms(rate: float, burst: int) -> int:
    """go-worker's bucket TTL, max(2 x burst / rate s, 1 s): an expired bucket is full again anyway."""
    return max(math.ceil(2000 * burst / rate), 1000)
