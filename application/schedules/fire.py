"""Firing one tick of a schedule: call its factory, then register the Task or hand the DurableTask to the store."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from pyworker.application.ports import Clock
from pyworker.application.schedules.model import Schedule, Tick
from pyworker.application.schedules.store import ScheduleStore
from pyworker.domain import DurableTask, Task, WorkerError
from pyworker.domain.schedule import FireOutcome, FireRecord, tick_task_id

logger = logging.getLogger("pyworker.schedules")


class TickFirer:
    """Fires ticks (and run-nows) for the ScheduleService.

    Errors of a user's factory or task are logged and the tick skipped on this node;
    the store's errors (BackendUnavailableError) propagate, so the loop can try again.
    """

    def __init__(
        self,
        clock: Clock,
        register_local: Callable[[Task], Awaitable[None]] | None,
        prepare_durable: Callable[[DurableTask], DurableTask] | None,
        store: ScheduleStore | None,
    ) -> None:
        self._clock = clock
        self._register_local = register_local
        self._prepare = prepare_durable
        self.store = store

    async def fire(self, schedule: Schedule, tick: float | None, all_paused: bool) -> FireRecord | None:
        """Fire one tick (or a run-now). None when the factory failed (logged)."""
        if not schedule.durable and tick is not None and (schedule.paused or all_paused):
            return FireRecord(schedule.name, FireOutcome.PAUSED, tick, self._clock.now())
        if not schedule.durable and tick is not None and schedule.skip_if_running and schedule.still_running():
            return self._note(schedule, FireRecord(schedule.name, FireOutcome.SKIPPED_RUNNING, tick, self._clock.now()))
        try:
            made = schedule.factory(Tick(schedule.name, schedule.spec.text, tick))
            if inspect.isawaitable(made):
                made = await made
        except Exception:  # a user's factory: logged, this tick skipped on this node
            logger.exception("schedule %s: the factory failed", schedule.name)
            return None
        if schedule.durable:
            return await self._fire_durable(schedule, tick, made)
        if not isinstance(made, Task):
            logger.error("schedule %s: the factory returned %r, not a Task", schedule.name, made)
            return None
        try:
            assert self._register_local is not None
            await self._register_local(made)
        except WorkerError as exc:
            logger.error("schedule %s: cannot register its task: %s", schedule.name, exc)
            return None
        schedule.running = made
        return self._note(schedule, FireRecord(schedule.name, FireOutcome.FIRED, tick, self._clock.now(), made.id))

    async def _fire_durable(self, schedule: Schedule, tick: float | None, made: Any) -> FireRecord | None:
        if not isinstance(made, DurableTask):
            logger.error("schedule %s: the factory returned %r, not a DurableTask", schedule.name, made)
            return None
        metadata = {
            **made.metadata,
            "worker.schedule.name": schedule.name,
            "worker.schedule.spec": schedule.spec.text,
            "worker.schedule.tick": "" if tick is None else str(round(tick * 1000)),
        }
        task_id = uuid.uuid4() if tick is None else tick_task_id(schedule.name, tick)
        assert self._prepare is not None
        assert self.store is not None
        try:
            prepared = self._prepare(attrs.evolve(made, id=task_id, metadata=metadata))
        except WorkerError as exc:
            logger.error("schedule %s: its task is invalid: %s", schedule.name, exc)
            return None
        size = schedule.history_size
        return await self.store.fire(
            schedule.name, tick, prepared, skip_if_running=schedule.skip_if_running, history=size
        )

    def _note(self, schedule: Schedule, record: FireRecord) -> FireRecord:
        schedule.history.appendleft(record)
        return record
