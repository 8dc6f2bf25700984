"""Retry backoff: exponential with a cap, then go-worker's deterministic +-10% jitter."""

from __future__ import annotations

import uuid

NANOS_PER_SECOND = 1_000_000_000
#: The doubling of the base delay is capped here (jitter is added after the cap).
MAX_BACKOFF_NS = 60 * NANOS_PER_SECOND
DEFAULT_BACKOFF_NS = NANOS_PER_SECOND

_MASK64 = (1 << 64) - 1
_INT64_MIN = -(1 << 63)


def _wrap64(value: int) -> int:
    """Two's-complement wrap to a signed 64-bit integer."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def jitter_hash(task_id: uuid.UUID, attempt: int) -> int:
    """go-worker's xorshift over the task id and attempt (docs/task-manager.md#retries-and-backoff), as int64."""
    raw = task_id.bytes
    left = int.from_bytes(raw[0:8], "little", signed=True)
    right = int.from_bytes(raw[8:16], "little", signed=True)
    m = _wrap64(left ^ right ^ attempt)
    m = _wrap64(m ^ (m << 13))
    m = _wrap64(m ^ (m >> 7))  # Python's >> on a negative int is arithmetic, as Go's.
    return _wrap64(m ^ (m << 17))


def apply_jitter_ns(delay_ns: int, task_id: uuid.UUID, attempt: int) -> int:
    """Shift ``delay_ns`` by a deterministic amount in ``[-span/2, span/2)``, span = delay/5."""
    span = delay_ns // 5
    if span <= 0:
        return delay_ns
    h = jitter_hash(task_id, attempt)
    if h in (0, _INT64_MIN):  # |INT64_MIN| overflows in Go: no jitter.
        return delay_ns
    return delay_ns + (abs(h) % span) - span // 2


def capped_backoff_ns(base_ns: int, attempt: int) -> int:
    """``base * 2^(attempt-1)`` capped at one minute; a non-positive base is 1 s."""
    if base_ns <= 0:
        base_ns = DEFAULT_BACKOFF_NS
    attempt = max(attempt, 1)
    delay = base_ns
    for _ in range(attempt - 1):
        delay *= 2
        if delay >= MAX_BACKOFF_NS:
            return MAX_BACKOFF_NS
    return min(delay, MAX_BACKOFF_NS)


def retry_delay_ns(base_ns: int, attempt: int, task_id: uuid.UUID) -> int:
    """The k-th retry's delay in nanoseconds: capped exponential, then jitter."""
    attempt = max(attempt, 1)
    return apply_jitter_ns(capped_backoff_ns(base_ns, attempt), task_id, attempt)


def retry_delay(base: float, attempt: int, task_id: uuid.UUID) -> float:
    """The k-th retry's delay in seconds (``base`` in seconds; <= 0 means 1 s)."""
    return retry_delay_ns(round(base * NANOS_PER_SECOND), attempt, task_id) / NANOS_PER_SECOND
