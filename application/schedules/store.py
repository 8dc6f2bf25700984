"""The ScheduleStore port: where durable schedules fire exactly once, keep their history and pause state."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pyworker.domain import DurableTask
from pyworker.domain.schedule import FireRecord


@runtime_checkable
class ScheduleStore(Protocol):
    """Durable schedules' shared state, next to the durable tasks (docs/cluster.md#schedules).

    Every node of a cluster fires every tick of a durable schedule; the store makes
    each tick create at most one task. Per schedule it keeps a *watermark*, the
    latest tick handled, and ``fire`` for a tick at or before it does nothing: a
    node that fires late, even after the tick's task ran and was deleted, creates
    nothing (docs/adr/0021-schedules-exactly-once-watermark.md). Times are epoch seconds.
    """

    async def fire(
        self, name: str, tick: float | None, task: DurableTask, *, skip_if_running: bool, history: int
    ) -> FireRecord:
        """Create ``task`` for ``tick`` of schedule ``name``, in one atomic step.

        For a tick (``tick`` not None), in this order: a tick at or before the
        watermark is ``DUPLICATE`` (nothing written); otherwise the watermark moves
        to ``tick``; then a paused schedule (or a global pause) gives ``PAUSED``,
        and with ``skip_if_running`` a previous task of the schedule still stored
        and not dead gives ``SKIPPED_RUNNING``; else the task is enqueued (ready
        now, or at ``task.run_at``) and the result is ``FIRED``. ``tick`` None is a
        run-now: no watermark or pause check. ``FIRED`` and ``SKIPPED_RUNNING``
        are pushed on the schedule's history, trimmed to ``history`` entries.

        ``task`` is prepared (id, payload and queue set). Raises
        BackendUnavailableError; nothing is half-written.
        """
        ...

    async def last_tick(self, name: str) -> float | None:
        """The watermark of ``name``, or None when no tick was ever handled."""
        ...

    async def set_paused(self, name: str | None, paused: bool) -> None:
        """Pause or resume one schedule, or every schedule (``name`` None), for every node."""
        ...

    async def paused(self) -> tuple[bool, frozenset[str]]:
        """The global pause flag and the names paused one by one."""
        ...

    async def history(self, name: str, limit: int) -> list[FireRecord]:
        """Up to ``limit`` of the latest FIRED / SKIPPED_RUNNING records of ``name``, newest first."""
        ...


@runtime_checkable
class ScheduleStoreProvider(Protocol):
    """A durable backend that can hold schedules (the in-memory and Redis backends)."""

    def schedule_store(self) -> ScheduleStore: ...
