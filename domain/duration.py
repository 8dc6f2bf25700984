"""Duration and instant normalisation: seconds as float, timedelta and datetime accepted."""

from __future__ import annotations

import datetime as dt

from pyworker.domain.errors import InvalidDurationError

Duration = float | int | dt.timedelta
Instant = float | int | dt.datetime


def to_seconds(value: Duration | None) -> float:
    """Seconds as a float; ``None`` is 0; a timedelta is converted exactly."""
    if type(value) is float:  # the common case, first: this runs for every task built
        return value
    if value is None:
        return 0.0
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDurationError(reason=f"expected seconds or a timedelta, got {type(value).__name__}")
    return float(value)


def to_epoch(value: Instant | None) -> float | None:
    """Unix epoch seconds; a naive datetime is read as UTC."""
    if value is None or type(value) is float:
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDurationError(reason=f"expected epoch seconds or a datetime, got {type(value).__name__}")
    return float(value)


def to_ms(seconds: float) -> int:
    """Whole milliseconds (epoch or duration): every durable adapter compares times in ms,
    so they agree exactly whatever the float noise.
    """
    return round(seconds * 1000)
