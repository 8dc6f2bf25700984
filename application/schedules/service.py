"""ScheduleService: cron schedules of a TaskManager, fired by one loop on the Clock port."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pyworker.application.ports import Clock
from pyworker.application.schedules.fire import TickFirer
from pyworker.application.schedules.model import Factory, Schedule, ScheduleInfo
from pyworker.application.schedules.spec import ScheduleSpec
from pyworker.application.schedules.store import ScheduleStore
from pyworker.domain import DurableModeError, DurableTask, Task, WorkerError
from pyworker.domain.schedule import (
    DEFAULT_HISTORY,
    DEFAULT_TIMEZONE,
    FireRecord,
    InvalidScheduleFactoryError,
    Misfire,
    MisfirePolicy,
    ScheduleExistsError,
    ScheduleNotFoundError,
    check_name,
)

logger = logging.getLogger("pyworker.schedules")

#: After the store failed, how soon a durable schedule tries again (its missed ticks
#: then follow its misfire policy).
RETRY_AFTER = 1.0


class ScheduleService:
    """Registers schedules and fires their ticks (docs/cluster.md#schedules).

    In-process schedules register a Task on this manager at each tick; durable
    ones enqueue a DurableTask through the ScheduleStore, which lets one task per
    tick through however many nodes fire it. The loop runs between ``start`` and
    ``stop`` and reads time only from the Clock.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        register_local: Callable[[Task], Awaitable[None]] | None,
        prepare_durable: Callable[[DurableTask], DurableTask] | None,
        store: ScheduleStore | None,
    ) -> None:
        self._clock = clock
        self._firer = TickFirer(clock, register_local, prepare_durable, store)
        self._local = register_local is not None
        self._durable = prepare_durable is not None
        self.store = store
        self._schedules: dict[str, Schedule] = {}
        self._all_paused = False
        self._changed = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._running = False  # between start() and stop(); the loop exists only with schedules

    # -- registration -----------------------------------------------------------------

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
        """Fire ``factory``'s Task on this manager at every tick of ``spec``.

        Raises:
            DurableModeError: the manager is in durable mode.
            InvalidScheduleNameError, InvalidScheduleSpecError, InvalidTimezoneError,
            InvalidMisfirePolicyError, ScheduleExistsError.
        """
        if not self._local:
            raise DurableModeError(reason="durable backend enabled; use register_durable_cron_task")
        self._add(name, spec, factory, False, timezone, misfire, skip_if_running, history)

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
        """Enqueue ``factory``'s DurableTask at every tick of ``spec``, once per tick
        across every node that registers the same schedule.

        Raises:
            DurableModeError: no durable backend with a schedule store.
            and the errors of ``register_cron_task``.
        """
        if not self._durable:
            raise DurableModeError(reason="durable backend not configured")
        if self.store is None:
            raise DurableModeError(reason="the durable backend keeps no schedules (it has no schedule_store())")
        self._add(name, spec, factory, True, timezone, misfire, skip_if_running, history)

    def _add(
        self, name: str, spec: str, factory: Factory, durable: bool, timezone: str,
        misfire: MisfirePolicy | Misfire | str, skip_if_running: bool, history: int,
    ) -> None:  # fmt: skip
        name = check_name(name)
        parsed = ScheduleSpec.parse(spec, timezone)
        policy = MisfirePolicy.of(misfire)
        if not callable(factory):
            raise InvalidScheduleFactoryError(name=name)
        if name in self._schedules:
            raise ScheduleExistsError(name=name)
        keep = collections.deque[FireRecord](maxlen=max(int(history), 1))
        self._schedules[name] = Schedule(name, parsed, factory, durable, policy, bool(skip_if_running), keep)
        self._changed.set()
        if self._running:
            self._ensure_loop()

    def unregister_cron_task(self, name: str) -> bool:
        """Stop firing ``name`` on this node; True if it was registered. A durable
        schedule's watermark, history and pause state stay in the store."""
        found = self._schedules.pop(name.strip(), None) is not None
        self._changed.set()
        return found

    def schedules(self) -> list[ScheduleInfo]:
        """The schedules registered here, by name."""
        return [
            ScheduleInfo(s.name, s.spec.text, s.spec.timezone, s.durable, s.misfire, s.skip_if_running,
                         s.next_at, s.paused or self._all_paused)
            for s in sorted(self._schedules.values(), key=lambda s: s.name)
        ]  # fmt: skip

    def registration(self, name: str) -> Schedule:
        """The registration of ``name``: its factory and options. Raises ScheduleNotFoundError."""
        return self._get(name)

    def _get(self, name: str) -> Schedule:
        schedule = self._schedules.get(name.strip())
        if schedule is None:
            raise ScheduleNotFoundError(name=name)
        return schedule

    # -- operator actions ---------------------------------------------------------------

    async def pause(self, name: str | None = None) -> None:
        """Pause one schedule or all (None). Durable schedules pause for every node."""
        await self._set_paused(name, True)

    async def resume(self, name: str | None = None) -> None:
        """Resume one schedule or all (None). Ticks that passed while paused do not fire."""
        await self._set_paused(name, False)

    async def _set_paused(self, name: str | None, paused: bool) -> None:
        if name is None:
            self._all_paused = paused
            if self.store is not None:
                await self.store.set_paused(None, paused)
            return
        schedule = self._get(name)
        schedule.paused = paused
        if schedule.durable and self.store is not None:
            await self.store.set_paused(schedule.name, paused)

    async def run_now(self, name: str) -> uuid.UUID | None:
        """Fire ``name`` at once, paused or not; returns the new task's id (None if the
        factory failed). The schedule's ticks are unchanged."""
        record = await self._firer.fire(self._get(name), None, self._all_paused)
        return record.task_id if record is not None else None

    async def history(self, name: str, limit: int | None = None) -> list[FireRecord]:
        """The latest fires of ``name``, newest first (durable: as every node recorded them)."""
        schedule = self._get(name)
        size = schedule.history_size
        count = size if limit is None else max(0, min(limit, size))
        if schedule.durable and self.store is not None:
            return await self.store.history(schedule.name, count)
        return list(schedule.history)[:count]

    # -- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing (on the running loop). Idempotent; a manager without schedules
        gets no loop until one is registered."""
        self._running = True
        if self._schedules:
            self._ensure_loop()

    def _ensure_loop(self) -> None:
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_running_loop().create_task(self._run(), name="pyworker-schedules")

    async def stop(self) -> None:
        """Stop firing; a fire in progress is interrupted. Idempotent."""
        self._running = False
        loop, self._loop = self._loop, None
        if loop is not None and not loop.done():
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            now = self._clock.now()
            for schedule in list(self._schedules.values()):
                try:
                    if schedule.last is None:
                        await self._begin(schedule, now)
                    elif schedule.next_at is not None and schedule.next_at <= now:
                        await self._fire_due(schedule, now)
                except Exception:  # a bug must not stop every other schedule: log, retry soon
                    logger.exception("schedule %s: unexpected error", schedule.name)
                    schedule.next_at = now + RETRY_AFTER
            due = [s.next_at for s in self._schedules.values() if s.next_at is not None]
            await self._sleep_until(min(due) if due else None)

    async def _begin(self, schedule: Schedule, now: float) -> None:
        """A new schedule starts after now, or, durable, after the last tick any node handled
        (ticks missed while no node ran follow the misfire policy)."""
        last: float | None = None
        if schedule.durable and self.store is not None:
            try:
                last = await self.store.last_tick(schedule.name)
            except WorkerError as exc:
                logger.warning("schedule %s: cannot read its last tick: %s", schedule.name, exc)
                schedule.next_at = now + RETRY_AFTER
                return
        schedule.last = now if last is None else min(last, now)
        await self._fire_due(schedule, now)  # nothing is due when last == now

    async def _fire_due(self, schedule: Schedule, now: float) -> None:
        assert schedule.last is not None
        for tick in schedule.misfire.due(schedule.spec, schedule.last, now):
            try:
                await self._firer.fire(schedule, tick, self._all_paused)
            except WorkerError as exc:  # the store is down: try again soon, misfire rules apply
                logger.warning("schedule %s: tick %s not fired: %s", schedule.name, tick, exc)
                schedule.next_at = now + RETRY_AFTER
                return
            schedule.last = tick
        schedule.last = now
        schedule.next_at = schedule.spec.next_after(now)

    async def _sleep_until(self, when: float | None) -> None:
        if when is not None and when <= self._clock.now():
            await asyncio.sleep(0)  # due already (time moved while firing): no timer to wait for
            return
        changed = asyncio.ensure_future(self._changed.wait())
        waits: set[asyncio.Future[Any]] = {changed}
        if when is not None:
            waits.add(asyncio.ensure_future(self._sleep_to(when)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _sleep_to(self, when: float) -> None:
        # The delay is read when the timer is armed (this task's first step), not before.
        now = self._clock.now()
        if when > now:
            await self._clock.sleep(when - now)
