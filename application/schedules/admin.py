"""ScheduleAdmin: the operator's actions on durable schedules' shared state, written once for every entrypoint."""

from __future__ import annotations

from pyworker.application.schedules.store import ScheduleStore
from pyworker.domain.schedule import DEFAULT_HISTORY, FireRecord, check_name


class ScheduleAdmin:
    """Pause, resume and read the history of durable schedules over a ScheduleStore
    (the CLI's ``workerctl durable schedules``; a gRPC admin or a web page would call
    the same). Names are checked as registration checks them.

    Raises InvalidScheduleNameError for a bad name, BackendUnavailableError when the
    store does not answer.
    """

    def __init__(self, store: ScheduleStore) -> None:
        self._store = store

    async def pause(self, name: str | None = None) -> None:
        """Pause one schedule, or every schedule (None), for every node."""
        await self._store.set_paused(None if name is None else check_name(name), True)

    async def resume(self, name: str | None = None) -> None:
        await self._store.set_paused(None if name is None else check_name(name), False)

    async def paused(self) -> tuple[bool, list[str]]:
        """The global flag and the names paused one by one, sorted."""
        every, names = await self._store.paused()
        return every, sorted(names)

    async def history(self, name: str, limit: int = DEFAULT_HISTORY) -> list[FireRecord]:
        """The latest fires of ``name``, newest first."""
        return await self._store.history(check_name(name), max(limit, 0))
