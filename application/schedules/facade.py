"""The TaskManager's schedule methods (a mixin delegating to its ScheduleService) and their wiring."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from pyworker.application.engine import Engine
from pyworker.application.schedules.model import Factory, ScheduleInfo
from pyworker.application.schedules.service import ScheduleService
from pyworker.application.schedules.store import ScheduleStoreProvider
from pyworker.domain import Task
from pyworker.domain.schedule import DEFAULT_HISTORY, DEFAULT_TIMEZONE, FireRecord, Misfire, MisfirePolicy


def new_schedule_service(engine: Engine, register_task: Callable[[Task], Awaitable[None]]) -> ScheduleService:
    """In-memory mode fires Tasks into ``register_task``; durable mode fires through the
    backend's ScheduleStore when the backend provides one (both bundled backends do)."""
    durable = engine.durable
    if durable is None:
        return ScheduleService(engine.clock, register_local=register_task, prepare_durable=None, store=None)
    backend = durable.queue
    store = backend.schedule_store() if isinstance(backend, ScheduleStoreProvider) else None
    return ScheduleService(engine.clock, register_local=None, prepare_durable=durable.registrar.prepare, store=store)


class ScheduleMethods:
    """go-worker's cron methods on the TaskManager (docs/cluster.md#schedules)."""

    schedules: ScheduleService

    def register_cron_task(
        self,
        name: str,
        spec: str,
        factory: Factory,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        misfire: MisfirePolicy | Misfire | str = Misfire.ONCE,
        skip_if_running: bool = False,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        """An in-process schedule: ``factory(tick)`` returns the Task registered at each tick."""
        self.schedules.register_cron_task(
            name, spec, factory, timezone=timezone, misfire=misfire, skip_if_running=skip_if_running, history=history
        )

    def register_durable_cron_task(
        self,
        name: str,
        spec: str,
        factory: Factory,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        misfire: MisfirePolicy | Misfire | str = Misfire.ONCE,
        skip_if_running: bool = False,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        """A durable schedule: ``factory(tick)`` returns the DurableTask enqueued once per tick cluster-wide."""
        self.schedules.register_durable_cron_task(
            name, spec, factory, timezone=timezone, misfire=misfire, skip_if_running=skip_if_running, history=history
        )

    def unregister_cron_task(self, name: str) -> bool:
        return self.schedules.unregister_cron_task(name)

    def list_schedules(self) -> list[ScheduleInfo]:
        return self.schedules.schedules()

    async def pause_schedule(self, name: str | None = None) -> None:
        await self.schedules.pause(name)

    async def resume_schedule(self, name: str | None = None) -> None:
        await self.schedules.resume(name)

    async def run_schedule_now(self, name: str) -> uuid.UUID | None:
        return await self.schedules.run_now(name)

    async def schedule_history(self, name: str, limit: int | None = None) -> list[FireRecord]:
        return await self.schedules.history(name, limit)
