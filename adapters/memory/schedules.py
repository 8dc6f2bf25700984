"""InMemoryScheduleStore: the ScheduleStore port over an InMemoryDurableBackend, in this process."""

from __future__ import annotations

import asyncio
import collections
import uuid

from pyworker.adapters.clock import SystemClock
from pyworker.application.ports import Clock, DurableBackend
from pyworker.domain import DurableState, DurableTask, DurableTaskExistsError, TaskNotFoundError
from pyworker.domain.schedule import FireOutcome, FireRecord


class InMemoryScheduleStore:
    """Schedules' watermarks, pause state and history next to an in-memory backend's
    tasks (the same semantics as ``RedisScheduleStore``; the contract suite runs both).

    A lock makes each ``fire`` one step for every manager of this process that shares
    the backend. Nothing survives the process.
    """

    def __init__(self, backend: DurableBackend, clock: Clock | None = None) -> None:
        self._backend = backend
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = asyncio.Lock()
        self._watermarks: dict[str, float] = {}
        self._last_task: dict[str, uuid.UUID] = {}
        self._history: dict[str, collections.deque[FireRecord]] = {}
        self._all_paused = False
        self._paused: set[str] = set()

    async def fire(
        self, name: str, tick: float | None, task: DurableTask, *, skip_if_running: bool, history: int
    ) -> FireRecord:
        async with self._lock:
            now = self._clock.now()
            if tick is not None:
                watermark = self._watermarks.get(name)
                if watermark is not None and tick <= watermark:
                    return FireRecord(name, FireOutcome.DUPLICATE, tick, now)
                self._watermarks[name] = tick
                if self._all_paused or name in self._paused:
                    return FireRecord(name, FireOutcome.PAUSED, tick, now)
                if skip_if_running and await self._running(name):
                    return self._note(name, FireRecord(name, FireOutcome.SKIPPED_RUNNING, tick, now), history)
            try:
                task_id = await self._backend.enqueue(task)
            except DurableTaskExistsError:
                return FireRecord(name, FireOutcome.DUPLICATE, tick, now)
            self._last_task[name] = task_id
            return self._note(name, FireRecord(name, FireOutcome.FIRED, tick, now, task_id), history)

    async def _running(self, name: str) -> bool:
        previous = self._last_task.get(name)
        if previous is None:
            return False
        try:
            record = await self._backend.get(previous)
        except TaskNotFoundError:
            return False
        return record.state is not DurableState.DEAD

    def _note(self, name: str, record: FireRecord, history: int) -> FireRecord:
        kept = self._history.get(name)
        if kept is None or kept.maxlen != max(history, 1):
            kept = self._history[name] = collections.deque(kept or (), maxlen=max(history, 1))
        kept.appendleft(record)
        return record

    async def last_tick(self, name: str) -> float | None:
        return self._watermarks.get(name)

    async def set_paused(self, name: str | None, paused: bool) -> None:
        if name is None:
            self._all_paused = paused
        elif paused:
            self._paused.add(name)
        else:
            self._paused.discard(name)

    async def paused(self) -> tuple[bool, frozenset[str]]:
        return self._all_paused, frozenset(self._paused)

    async def history(self, name: str, limit: int) -> list[FireRecord]:
        return list(self._history.get(name, ()))[: max(limit, 0)]
