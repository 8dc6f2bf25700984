"""Parsing and evaluating schedule specs with ``cronsim`` (docs/cluster.md#schedules).

This module only maps the descriptors (``@hourly`` ...) to the cron expressions
crontab(5) defines for them and reads the duration of ``@every``; cronsim parses and
evaluates cron expressions. It is here and not in ``domain/`` because the domain is
the standard library and attrs only. Pure: time comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import attrs
from cronsim import CronSim, CronSimError

from pyworker.domain.schedule import DEFAULT_TIMEZONE, InvalidScheduleSpecError, InvalidTimezoneError

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
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_EVERY_PART = re.compile(r"(\d+)(ms|s|m|h)")


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
