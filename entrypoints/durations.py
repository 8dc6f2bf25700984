"""Command-line durations: Go's forms (200ms, 30s, 5m, 1h30m) and plain seconds."""

from __future__ import annotations

import math
import re
from typing import Any

import click

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds from ``"1.5"``, ``"200ms"``, ``"1h30m"`` or ``"-5s"``.

    Raises:
        ValueError: not a duration.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty duration")
    try:
        return float(raw)
    except ValueError:
        pass
    sign = -1.0 if raw.startswith("-") else 1.0
    body = raw.lstrip("+-")
    total = 0.0
    position = 0
    for match in _PART.finditer(body):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(body) or position == 0:
        raise ValueError(f"invalid duration {text!r} (use e.g. 200ms, 30s, 5m, 1h30m or seconds)")
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's form of ``seconds``: ``200ms``, ``30s``, ``1m30s``, ``1h``."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(hours)}h"] if hours else []
    if minutes:
        parts.append(f"{int(minutes)}m")
    if secs or not parts:
        parts.append(f"{secs:g}s")
    return "".join(parts)


class DurationType(click.ParamType[float]):
    """A click parameter type for durations of 0 or more (a negative lease or timeout means nothing)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value) if isinstance(value, int | float) else parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not math.isfinite(seconds) or seconds < 0:
            self.fail(f"{value!r} is not a duration of 0 or more", param, ctx)
        return seconds


DURATION = DurationType()
