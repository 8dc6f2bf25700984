"""Schedules (cron): spec parsing, tick arithmetic, misfire policies and tick ids. Pure: time comes in.

A schedule fires at *ticks*: instants (Unix seconds) given by a spec in a time zone.
Cron expressions are parsed and evaluated by ``cronsim`` (docs/cluster.md#schedules);
this module only maps the descriptors (``@hourly`` ...) to the cron expressions
crontab(5) defines for them and reads the duration of ``@every``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
import zoneinfo

import attrs
from cronsim import CronSim, CronSimError

from pyworker.domain.errors import WorkerError

#: crontab(5)'s descriptors and the 5-field expression each one stands for.
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
DEFAULT_TIMEZONE = "UTC"
#: How many fires a schedule's history keeps (newest first).
DEFAULT_HISTORY = 100
#: The most ticks a misfire policy ``all`` fires after an outage.
DEFAULT_MISFIRE_LIMIT = 100
MAX_NAME_LENGTH = 200
#: The namespace of the deterministic task ids of ticks (uuid5).
TICK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pyworker:schedule")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_EVERY_PART = re.compile(r"(\d+)(ms|s|m|h)")


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


def _zone(name: str) -> dt.tzinfo:
    if name.upper() == "UTC":
        return dt.UTC  # cronsim skips its DST handling for this exact object
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezoneError(timezone=name) from None


def _every_ms(spec: str, text: str) -> int:
    position, total = 0, 0
    for match in _EVERY_PART.finditer(text):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise InvalidScheduleSpecError(spec=spec, reason="@every needs a duration such as 30s, 5m or 1h30m")
    if total < 1000:
        raise InvalidScheduleSpecError(spec=spec, reason="@every needs at least 1s")
    return total


@attrs.frozen
class ScheduleSpec:
    """A parsed spec in its time zone. Build it with ``ScheduleSpec.parse``.

    ``@every <duration>`` ticks at the multiples of the duration since the Unix
    epoch, so every node computes the same ticks whenever it started.
    """

    text: str
    timezone: str = DEFAULT_TIMEZONE
    cron: str = ""  # the 5- or 6-field expression cronsim evaluates; "" for @every
    every_ms: int = 0

    @classmethod
    def parse(cls, spec: str, timezone: str = DEFAULT_TIMEZONE) -> ScheduleSpec:
        """Raises InvalidScheduleSpecError or InvalidTimezoneError."""
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidScheduleSpecError(spec=str(spec), reason="empty")
        text = " ".join(spec.split())
        zone = timezone.strip() if isinstance(timezone, str) else ""
        if not zone:
            raise InvalidTimezoneError(timezone=str(timezone))
        _zone(zone)
        lowered = text.lower()
        if lowered.startswith("@every "):
            return cls(text, zone, every_ms=_every_ms(text, lowered[len("@every ") :].replace(" ", "")))
        cron = DESCRIPTORS.get(lowered, text)
        if cron.startswith("@"):
            known = ", ".join(DESCRIPTORS)
            raise InvalidScheduleSpecError(spec=text, reason=f"unknown descriptor (known: {known}, @every)")
        if len(cron.split()) not in (5, 6):
            raise InvalidScheduleSpecError(spec=text, reason="a cron expression has 5 fields, or 6 (seconds first)")
        try:
            next(CronSim(cron, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        except (CronSimError, StopIteration) as exc:
            raise InvalidScheduleSpecError(spec=text, reason=str(exc) or "no matching time") from None
        return cls(text, zone, cron=cron)

    def next_after(self, t: float) -> float:
        """The first tick strictly after ``t``."""
        if self.every_ms:
            return (int(t * 1000) // self.every_ms + 1) * self.every_ms / 1000
        start = dt.datetime.fromtimestamp(int(t // 1), _zone(self.timezone))
        return next(CronSim(self.cron, start)).timestamp()

    def latest_ticks(self, after: float, until: float, limit: int) -> list[float]:
        """Up to ``limit`` of the latest ticks in (``after``, ``until``], oldest first."""
        if until <= after or limit < 1:
            return []
        ticks: list[float] = []
        if self.every_ms:
            tick_ms = int(until * 1000) // self.every_ms * self.every_ms
            while len(ticks) < limit and tick_ms / 1000 > after:
                ticks.append(tick_ms / 1000)
                tick_ms -= self.every_ms
        else:
            # Backwards from the second after `until`: the first tick is <= until.
            start = dt.datetime.fromtimestamp(int(until // 1) + 1, _zone(self.timezone))
            for moment in CronSim(self.cron, start, reverse=True):
                tick = moment.timestamp()
                if tick <= after or len(ticks) >= limit:
                    break
                ticks.append(tick)
        ticks.reverse()
        return ticks


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

    def due(self, spec: ScheduleSpec, last: float, now: float) -> list[float]:
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

