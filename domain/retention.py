"""Retention policy: which terminal tasks the registry may forget, and when."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import attrs

from pyworker.domain.duration import to_seconds

MIN_CLEANUP_INTERVAL = 1.0
MAX_CLEANUP_INTERVAL = 60.0


def _non_negative_seconds(value: object) -> float:
    return max(to_seconds(value), 0.0)  # type: ignore[arg-type]


def _non_negative_int(value: int) -> int:
    return max(int(value), 0)


@attrs.frozen
class RetentionPolicy:
    """Bounds on the task registry. Zero means "no limit" for ttl and max_entries.

    Negative values are normalised to 0 (docs/task-manager.md#retention).
    """

    ttl: float = attrs.field(default=0.0, converter=_non_negative_seconds)
    max_entries: int = attrs.field(default=0, converter=_non_negative_int)
    cleanup_interval: float = attrs.field(default=0.0, converter=_non_negative_seconds)

    @property
    def interval(self) -> float:
        """The TTL sweep interval: cleanup_interval if set, else clamp(ttl/2, 1s, 1m)."""
        if self.cleanup_interval > 0:
            return self.cleanup_interval
        if self.ttl <= 0:
            return MAX_CLEANUP_INTERVAL
        return min(max(self.ttl / 2, MIN_CLEANUP_INTERVAL), MAX_CLEANUP_INTERVAL)

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 or self.max_entries > 0

    def ttl_sweep_due(self, now: float, last_check: float | None) -> bool:
        """True when a TTL sweep should run now (at least ``interval`` since the last)."""
        return self.ttl > 0 and (last_check is None or now - last_check >= self.interval)

    def should_prune(self, now: float, last_check: float | None, size: int) -> bool:
        """Whether a prune attempt has any work (docs/task-manager.md#retention)."""
        return self.ttl_sweep_due(now, last_check) or (0 < self.max_entries < size)


def prune_selection(
    policy: RetentionPolicy,
    terminal: Iterable[tuple[float, uuid.UUID]],
    size: int,
    now: float,
    ttl_sweep: bool,
) -> list[uuid.UUID]:
    """Pick the terminal tasks to forget.

    Args:
        policy: the retention policy.
        terminal: ``(terminal_time, task_id)`` of every terminal task (never the others).
        size: how many tasks the registry holds in all.
        now: the current time, in the same unit as terminal times.
        ttl_sweep: whether the TTL rule runs in this attempt.

    Returns:
        The ids to remove: first every task at least ``ttl`` old (when sweeping),
        then the oldest-terminal ones until the registry fits ``max_entries``.
    """
    ordered = sorted(terminal, key=lambda pair: pair[0])
    removed: list[uuid.UUID] = []
    keep: list[tuple[float, uuid.UUID]] = ordered
    if ttl_sweep and policy.ttl > 0:
        cutoff = now - policy.ttl
        keep = []
        for at, task_id in ordered:
            if at <= cutoff:
                removed.append(task_id)
            else:
                keep.append((at, task_id))
    if policy.max_entries > 0:
        excess = size - len(removed) - policy.max_entries
        if excess > 0:
            removed.extend(task_id for _, task_id in keep[:excess])
    return removed
