"""Schedules (cron): names, errors, misfire policies, tick ids and fire records. Pure: time comes in.

A schedule fires at *ticks*: instants (Unix seconds) given by a spec in a time zone.
Parsing and evaluating specs needs the cron library, so it lives in the application
(``application/schedules/spec.py``): the domain is the standard library and attrs only.
"""

from __future__ import annotations

import enum
import uuid
from typing import Protocol

import attrs

from pyworker.domain.errors import WorkerError

DEFAULT_TIMEZONE = "UTC"
#: How many fires a schedule's history keeps (newest first).
DEFAULT_HISTORY = 100
#: The most ticks a misfire policy ``all`` fires after an outage.
DEFAULT_MISFIRE_LIMIT = 100
MAX_NAME_LENGTH = 200
#: The namespace of the deterministic task ids of ticks (uuid5).
TICK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pyworker:schedule")


@attrs.define(auto_exc=True, eq=False)
class ScheduleError(WorkerError):
    """Root of the schedule errors."""

    template = "schedule error"


@attrs.define(auto_exc=True, eq=False)
class InvalidScheduleSpecError(ScheduleError, ValueError):
    """A spec that is neither a 5- or 6-field cron expression, a descriptor nor ``@every <duration>``."""

    template = "invalid schedule {spec!r}: {reason}"
    spec: str
    reason: str


@attrs.define(auto_exc=True, eq=False)
class InvalidTimezoneError(ScheduleError, ValueError):
    """A time zone the IANA database (zoneinfo) does not know."""

    template = "unknown time zone {timezone!r}"
    timezone: str


@attrs.define(auto_exc=True, eq=False)
class InvalidScheduleNameError(ScheduleError, ValueError):
    """An empty, too long or unprintable schedule name."""

    template = "invalid schedule name {name!r}: {reason}"
    name: str
    reason: str


@attrs.define(auto_exc=True, eq=False)
class InvalidMisfirePolicyError(ScheduleError, ValueError):
    """A misfire mode other than skip / once / all, or a limit below 1."""

    template = "invalid misfire policy: {reason}"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class InvalidScheduleFactoryError(ScheduleError, TypeError):
    """A factory that is not callable."""

    template = "the factory of schedule {name!r} is not callable"
    name: str


@attrs.define(auto_exc=True, eq=False)
class ScheduleExistsError(ScheduleError):
    """A schedule with this name is already registered here."""

    template = "schedule {name!r} is already registered"
    name: str


@attrs.define(auto_exc=True, eq=False)
class ScheduleNotFoundError(ScheduleError, LookupError):
    """No schedule with this name is registered here."""

    template = "schedule {name!r} not found"
    name: str


def check_name(name: object) -> str:
    """The name stripped; raises InvalidScheduleNameError for an empty, long or unprintable one."""
    if not isinstance(name, str):
        raise InvalidScheduleNameError(name=repr(name), reason="not a string")
    stripped = name.strip()
    if not stripped:
        raise InvalidScheduleNameError(name=name, reason="empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise InvalidScheduleNameError(name=stripped[:20] + "...", reason=f"longer than {MAX_NAME_LENGTH}")
    if not stripped.isprintable() or any(ch.isspace() for ch in stripped):
        raise InvalidScheduleNameError(name=stripped, reason="spaces or unprintable characters")
    return stripped


class TickSource(Protocol):
    """What a misfire policy needs of a spec (``application.schedules.spec.ScheduleSpec``)."""

    def latest_ticks(self, after: float, until: float, limit: int) -> list[float]: ...


class Misfire(enum.StrEnum):
    """What a scheduler does with ticks it missed (no node up, a stalled loop)."""

    SKIP = "skip"  # fire only a tick at most `grace` late; drop older ones
    ONCE = "once"  # fire the latest missed tick once (the default)
    ALL = "all"  # fire every missed tick, at most `limit` of the latest


def _mode(value: object) -> Misfire:
    try:
        return Misfire(str(value).strip().lower())
    except ValueError:
        raise InvalidMisfirePolicyError(reason=f"mode {value!r} is not skip, once or all") from None


@attrs.frozen
class MisfirePolicy:
    """A misfire mode, the bound of ``all`` and the lateness ``skip`` tolerates."""

    mode: Misfire = attrs.field(default=Misfire.ONCE, converter=_mode)
    limit: int = DEFAULT_MISFIRE_LIMIT
    grace: float = 1.0

    def __attrs_post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise InvalidMisfirePolicyError(reason=f"limit must be an int >= 1, got {self.limit!r}")
        if not self.grace >= 0:
            raise InvalidMisfirePolicyError(reason=f"grace must be >= 0, got {self.grace!r}")

    @classmethod
    def of(cls, value: MisfirePolicy | Misfire | str) -> MisfirePolicy:
        return value if isinstance(value, MisfirePolicy) else cls(mode=_mode(value))

    def due(self, spec: TickSource, last: float, now: float) -> list[float]:
        """The ticks to fire now, oldest first, when ticks up to ``last`` were handled."""
        ticks = spec.latest_ticks(last, now, self.limit if self.mode is Misfire.ALL else 1)
        if self.mode is Misfire.SKIP and ticks and now - ticks[-1] > self.grace:
            return []
        return ticks


def tick_task_id(name: str, tick: float) -> uuid.UUID:
    """The id of the task of schedule ``name`` at ``tick``: every node derives the same one."""
    return uuid.uuid5(TICK_NAMESPACE, f"{name}@{round(tick * 1000)}")


class FireOutcome(enum.StrEnum):
    """What one fire did."""

    FIRED = "fired"  # a task was created
    DUPLICATE = "duplicate"  # this tick was already handled (by any node)
    SKIPPED_RUNNING = "skipped_running"  # the previous task of the schedule was still running
    PAUSED = "paused"  # the schedule (or every schedule) is paused


@attrs.frozen
class FireRecord:
    """One entry of a schedule's history. ``tick`` is None for a run-now."""

    name: str
    outcome: FireOutcome
    tick: float | None
    at: float
    task_id: uuid.UUID | None = None

