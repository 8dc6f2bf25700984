"""Schedules as the admin plane lists, creates, deletes, pauses and runs them, over a ScheduleService."""

from __future__ import annotations

import uuid

import attrs

from pyworker.application.clock import LoopClock
from pyworker.application.ports import Clock
from pyworker.application.schedules.model import Schedule
from pyworker.application.schedules.service import ScheduleService
from pyworker.application.schedules.spec import ScheduleSpec
from pyworker.domain.admin import AdminInvalidArgumentError, AdminPreconditionError, AdminUnsupportedError
from pyworker.domain.schedule import ScheduleNotFoundError

#: ListScheduleEvents' default limit (go-worker's).
DEFAULT_EVENTS = 200


@attrs.frozen
class ScheduleEntry:
    """A schedule as the admin plane shows it; times are epoch seconds, None when unset."""

    name: str
    spec: str
    durable: bool
    paused: bool
    next_run: float | None
    last_run: float | None


@attrs.frozen
class ScheduleEvent:
    """One fire of a schedule (``status`` is the fire's outcome: ``fired``, ``skipped_running``)."""

    name: str
    spec: str
    durable: bool
    status: str
    at: float
    task_id: uuid.UUID | None


class ScheduleOps:
    """go-worker's schedule RPCs over the TaskManager's ScheduleService (docs/grpc.md).

    A schedule's factory is the one registered in code under its name: CreateSchedule
    (re)creates a schedule from it with a new spec, DeleteSchedule stops it and keeps
    the factory for a later create. As in go-worker, the set of schedules is this
    process's; pause state and history of durable schedules are shared through the store.
    """

    def __init__(self, service: ScheduleService | None, clock: Clock | None = None) -> None:
        self._service = service
        self._clock = clock if clock is not None else LoopClock()
        self._kept: dict[str, Schedule] = {}  # deleted here: their factories stay available

    def _require(self) -> ScheduleService:
        if self._service is None:
            raise AdminUnsupportedError(reason="admin schedules need a TaskManager (none is served here)")
        return self._service

    async def entries(self) -> list[ScheduleEntry]:
        service = self._require()
        return [await self._entry(service, info.name) for info in service.schedules()]

    async def _store_paused(self, service: ScheduleService, name: str) -> bool:
        """A durable schedule's pause as the store holds it (every node's, the page's included)."""
        if service.store is None:
            return False
        every, names = await service.store.paused()
        return every or name in names

    def factories(self) -> list[tuple[str, bool]]:
        """(name, durable) of every factory: registered schedules and deleted ones."""
        service = self._require()
        known = {info.name: info.durable for info in service.schedules()}
        known.update({name: s.durable for name, s in self._kept.items() if name not in known})
        return sorted(known.items())

    async def create(self, name: str, spec: str, durable: bool) -> ScheduleEntry:
        """Register ``name`` anew with ``spec`` on its factory (replacing the current registration).

        Raises:
            AdminInvalidArgumentError: empty name or spec.
            AdminPreconditionError: no factory of that name, or its durable flag differs.
            InvalidScheduleSpecError: a spec that does not parse (the schedule is unchanged).
        """
        service = self._require()
        name, spec = name.strip(), spec.strip()
        if not name or not spec:
            raise AdminInvalidArgumentError(reason="admin schedule name and spec are required")
        current = self._current(service, name) or self._kept.get(name)
        if current is None:
            raise AdminPreconditionError(reason=f"admin schedule factory not found: {name}")
        if current.durable != durable:
            raise AdminPreconditionError(reason=f"admin schedule durable flag mismatch: {name}")
        ScheduleSpec.parse(spec, current.spec.timezone)  # refuse before touching the registration
        service.unregister_cron_task(name)
        register = service.register_durable_cron_task if durable else service.register_cron_task
        register(name, spec, current.factory, timezone=current.spec.timezone, misfire=current.misfire,
                 skip_if_running=current.skip_if_running, history=current.history_size)  # fmt: skip
        self._kept.pop(name, None)
        return await self._entry(service, name)

    async def delete(self, name: str) -> bool:
        """Stop ``name`` here, keeping its factory. Raises ScheduleNotFoundError."""
        service = self._require()
        current = service.registration(name)
        self._kept[current.name] = current
        return service.unregister_cron_task(current.name)

    async def pause(self, name: str, paused: bool) -> ScheduleEntry:
        service = self._require()
        current = service.registration(name)
        await (service.pause(current.name) if paused else service.resume(current.name))
        return await self._entry(service, current.name)

    async def pause_all(self, paused: bool) -> int:
        """Pause or resume every schedule; returns how many changed."""
        service = self._require()
        before = {info.name: info.paused for info in service.schedules()}
        await (service.pause(None) if paused else service.resume(None))
        return sum(1 for info in service.schedules() if before.get(info.name) != info.paused)

    async def run_now(self, name: str) -> uuid.UUID | None:
        service = self._require()
        return await service.run_now(service.registration(name).name)

    async def events(self, name: str = "", limit: int = 0) -> list[ScheduleEvent]:
        """The latest fires, newest first, of ``name`` or of every schedule ("")."""
        service = self._require()
        limit = limit if limit > 0 else DEFAULT_EVENTS
        names = [name.strip()] if name.strip() else [info.name for info in service.schedules()]
        events: list[ScheduleEvent] = []
        for each in names:
            current = service.registration(each)
            for record in await service.history(each, limit):
                events.append(ScheduleEvent(each, current.spec.text, current.durable, str(record.outcome),
                                            record.at, record.task_id))  # fmt: skip
        return sorted(events, key=lambda e: e.at, reverse=True)[:limit]

    @staticmethod
    def _current(service: ScheduleService, name: str) -> Schedule | None:
        try:
            return service.registration(name)
        except ScheduleNotFoundError:
            return None

    async def _entry(self, service: ScheduleService, name: str) -> ScheduleEntry:
        """A service that is not firing (an admin process's) has no next tick of its own: the
        spec's next one after now is shown; a durable schedule's pause is read from the store."""
        info = next(i for i in service.schedules() if i.name == name)
        last = await service.history(name, 1)
        paused = info.paused or (info.durable and await self._store_paused(service, name))
        upcoming = info.next_at
        if upcoming is None:
            upcoming = service.registration(name).spec.next_after(self._clock.now())
        return ScheduleEntry(name=info.name, spec=info.spec, durable=info.durable, paused=paused,
                             next_run=None if paused else upcoming,
                             last_run=last[0].at if last else None)  # fmt: skip
