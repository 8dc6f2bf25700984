"""InMemoryDurableResults: durable outcomes in one process (the DurableResults port of the memory backend)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid

from pyworker.application.ports import Clock
from pyworker.domain import DEFAULT_RESULTS_MAX_LEN, DurableOutcome, TaskStatus
from pyworker.domain.duration import to_ms

#: The largest sequence part of a cursor (as in a Redis stream id).
_MAX_SEQ = 2**64 - 1

_Id = tuple[int, int]


def _parse(cursor: str) -> _Id:
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


class InMemoryDurableResults:
    """Outcomes by task id, each kept ``ttl`` seconds by the clock, and a stream of them
    capped at ``max_len`` entries (the oldest go first), with ids ``ms-seq`` as Redis
    gives them; a reader waits on a future that the next record resolves. The memory backend writes here in
    the same step as the ack or fail (``record``), so the same contract holds as on Redis.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.ttl_ms = 0  # 0: results off (nothing recorded)
        self.node_id = ""
        self._nodes: set[str] = set()
        self._records: dict[uuid.UUID, tuple[DurableOutcome, int]] = {}
        self._expiries: collections.deque[tuple[int, uuid.UUID]] = collections.deque()
        self._stream: collections.deque[tuple[_Id, DurableOutcome]] = collections.deque(
            maxlen=DEFAULT_RESULTS_MAX_LEN
        )
        self._last: _Id = (0, 0)
        self._waiters: set[asyncio.Future[None]] = set()

    def configure(self, ttl: float, max_len: int, node_id: str) -> None:
        """Every manager on this backend calls this at start. One object cannot tell
        which manager settles a lease, so once two node ids configured it, outcomes
        record none ("": docs/cluster.md#results).
        """
        self.ttl_ms = to_ms(max(ttl, 0.0))
        self._nodes.add(node_id)
        self.node_id = node_id if len(self._nodes) == 1 else ""
        size = max_len if max_len > 0 else DEFAULT_RESULTS_MAX_LEN
        if size != self._stream.maxlen:
            self._stream = collections.deque(self._stream, maxlen=size)

    def record(self, outcome: DurableOutcome) -> None:
        """Keep ``outcome`` for the TTL and append it to the stream (no-op while off)."""
        if not self.ttl_ms:
            return
        now_ms = to_ms(self._clock.now())
        self._prune(now_ms)
        expires = now_ms + self.ttl_ms
        self._records[outcome.id] = (outcome, expires)
        self._expiries.append((expires, outcome.id))
        ms, seq = self._last
        self._last = (ms, seq + 1) if now_ms <= ms else (now_ms, 0)
        self._stream.append((self._last, outcome))
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def forget(self, task_id: uuid.UUID) -> None:
        """Drop a task's outcome (the task is brought back to run again)."""
        self._records.pop(task_id, None)

    def settled_between(self, start: float, end: float) -> tuple[int, int]:
        """(completed, failed) among the outcomes on the stream settled in ``[start, end)``
        (a cancellation counts in neither; the admin history, adapters/memory/admin.py)."""
        low, high = to_ms(start), to_ms(end)
        completed = failed = 0
        for (ms, _seq), outcome in self._stream:
            if low <= ms < high:
                if outcome.status is TaskStatus.COMPLETED:
                    completed += 1
                elif outcome.status is not TaskStatus.CANCELLED:
                    failed += 1
        return completed, failed

    @property
    def stream_length(self) -> int:
        return len(self._stream)

    # -- the DurableResults port -----------------------------------------------------

    async def get_result(self, task_id: uuid.UUID) -> DurableOutcome | None:
        entry = self._records.get(task_id)
        if entry is None or entry[1] <= to_ms(self._clock.now()):
            return None
        return entry[0]

    def results_cursor(self, at: float) -> str:
        """Exact: the store shares the caller's clock. From now (``at`` not in the past):
        the last entry; else the last entry recorded before ``at``.
        """
        at_ms = to_ms(at)
        if at_ms >= self._last[0]:
            return f"{self._last[0]}-{self._last[1]}"
        return f"{max(at_ms - 1, 0)}-{_MAX_SEQ}"

    async def read_results(
        self, cursor: str | None, max_wait: float, count: int
    ) -> tuple[str, list[DurableOutcome]]:
        after = self._last if cursor is None else _parse(cursor)
        found = self._after(after, count)
        if not found and max_wait > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), max_wait)  # real time, as on Redis
            finally:
                self._waiters.discard(waiter)
            found = self._after(after, count)
        if not found:
            return f"{after[0]}-{after[1]}", []
        last = found[-1][0]
        return f"{last[0]}-{last[1]}", [outcome for _, outcome in found]

    async def close(self) -> None:
        """Nothing to release."""

    # -- internals -------------------------------------------------------------------

    def _after(self, after: _Id, count: int) -> list[tuple[_Id, DurableOutcome]]:
        found: list[tuple[_Id, DurableOutcome]] = []
        for entry in reversed(self._stream):  # newest first: a reader is usually near the end
            if entry[0] <= after:
                break
            found.append(entry)
        found.reverse()
        return found[: max(count, 1)]

    def _prune(self, now_ms: int) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now_ms:
            expires, task_id = expiries.popleft()
            entry = self._records.get(task_id)
            if entry is not None and entry[1] == expires:
                del self._records[task_id]
