"""A registered schedule, what its factory receives, and what the service reports about it."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import attrs

from pyworker.application.schedules.spec import ScheduleSpec
from pyworker.domain import Task
from pyworker.domain.schedule import FireRecord, MisfirePolicy
from pyworker.domain.status import TERMINAL_STATUSES


@attrs.frozen
class Tick:
    """What a factory receives: the schedule and the tick it fires (None for a run-now)."""

    name: str
    spec: str
    at: float | None


#: Builds the task of one tick: a Task (in-process schedules) or a DurableTask
#: (durable ones), or an awaitable of it.
Factory = Callable[[Tick], Any]


@attrs.frozen
class ScheduleInfo:
    """A schedule as this node knows it. ``paused`` is this node's view for in-process schedules."""

    name: str
    spec: str
    timezone: str
    durable: bool
    misfire: MisfirePolicy
    skip_if_running: bool
    next_at: float | None
    paused: bool


@attrs.define(eq=False)
class Schedule:
    """One registration on this node and its progress."""

    name: str
    spec: ScheduleSpec
    factory: Factory
    durable: bool
    misfire: MisfirePolicy
    skip_if_running: bool
    history: collections.deque[FireRecord]
    last: float | None = None  # every tick up to here is handled; None: the loop sets it
    next_at: float | None = None
    paused: bool = False
    running: Task | None = None

    @property
    def history_size(self) -> int:
        return self.history.maxlen or 1

    def still_running(self) -> bool:
        """The last Task this in-process schedule registered is not terminal yet."""
        return self.running is not None and self.running.status not in TERMINAL_STATUSES
