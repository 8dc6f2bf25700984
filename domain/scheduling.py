"""Queue selection and ordering: pure rules for which waiting task runs next."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping

import attrs

DEFAULT_QUEUE = "default"
DEFAULT_QUEUE_WEIGHT = 1
DEFAULT_TASK_WEIGHT = 1


def ordering_key(priority: int, weight: int, seq: int) -> tuple[int, int, int]:
    """Sort key within a queue: lower priority first, then higher weight, then FIFO."""
    return (priority, -weight, seq)


def normalize_queue(name: str | None, default: str = DEFAULT_QUEUE) -> str:
    """A queue name trimmed; empty (or blank) becomes ``default``."""
    trimmed = (name or "").strip()
    return trimmed or (default.strip() or DEFAULT_QUEUE)


def normalize_weight(weight: int) -> int:
    """A task or queue weight; <= 0 becomes 1."""
    return weight if weight > 0 else DEFAULT_TASK_WEIGHT


def normalize_queue_weights(weights: Mapping[str, int] | None) -> dict[str, int]:
    """Copy queue weights: names trimmed, blank names dropped, weights <= 0 become 1."""
    result: dict[str, int] = {}
    for name, weight in (weights or {}).items():
        trimmed = name.strip()
        if trimmed:
            result[trimmed] = normalize_weight(int(weight))
    return result


@attrs.define
class WeightedRoundRobin:
    """go-worker's inter-queue weighted round robin (docs/task-manager.md#priorities-weights-queues-the-exact-order).

    Queues are visited alphabetically from a cursor; a non-empty queue serves up
    to its weight in a row, then the cursor moves on. Empty queues are skipped
    and their quota is reset. Pure: the caller says which queues have work.
    """

    weights: Mapping[str, int] = attrs.field(factory=dict)
    _names: list[str] = attrs.field(factory=list, init=False)
    _quota: dict[str, int] = attrs.field(factory=dict, init=False)
    _cursor: int = attrs.field(default=0, init=False)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def weight_of(self, name: str) -> int:
        return self.weights.get(name, DEFAULT_QUEUE_WEIGHT)

    def add(self, name: str) -> None:
        """Track a queue (idempotent). The cursor keeps its index, as go-worker's does."""
        index = bisect.bisect_left(self._names, name)
        if index < len(self._names) and self._names[index] == name:
            return
        self._names.insert(index, name)
        self._quota[name] = 0

    def pick(self, has_work: Callable[[str], bool]) -> str | None:
        """The queue to serve next, or None when every queue is empty."""
        count = len(self._names)
        if count == 0:
            return None
        self._cursor %= count
        for step in range(count):
            index = (self._cursor + step) % count
            name = self._names[index]
            if not has_work(name):
                self._quota[name] = 0
                continue
            quota = self._quota[name]
            if quota <= 0:
                quota = self.weight_of(name)
            quota -= 1
            self._quota[name] = quota
            self._cursor = (index + 1) % count if quota <= 0 else index
            return name
        return None
