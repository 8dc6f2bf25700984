"""The pure schedule model: specs, time zones, ticks, misfire policies and tick ids."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyworker.application.schedules.spec import ScheduleSpec
from pyworker.domain.schedule import (
    InvalidMisfirePolicyError,
    InvalidScheduleNameError,
    InvalidScheduleSpecError,
    InvalidTimezoneError,
    Misfire,
    MisfirePolicy,
    check_name,
    tick_task_id,
)

T0 = dt.datetime(2026, 3, 28, 12, 0, 30, tzinfo=dt.UTC).timestamp()  # a Saturday, the day before Paris's DST


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("*/15 * * * *", "2026-03-28T12:15:00"),  # 5 fields: minutes
        ("10 */15 * * * *", "2026-03-28T12:15:10"),  # 6 fields: seconds first
        ("45 * * * * *", "2026-03-28T12:00:45"),
        ("0 9 * * mon-fri", "2026-03-30T09:00:00"),
        ("@hourly", "2026-03-28T13:00:00"),
        ("@daily", "2026-03-29T00:00:00"),
        ("@midnight", "2026-03-29T00:00:00"),
        ("@weekly", "2026-03-29T00:00:00"),  # Sunday 00:00
        ("@monthly", "2026-04-01T00:00:00"),
        ("@yearly", "2027-01-01T00:00:00"),
        ("@annually", "2027-01-01T00:00:00"),
        ("@every 1m", "2026-03-28T12:01:00"),  # multiples of the interval since the epoch
        ("@every 90s", "2026-03-28T12:01:30"),
        ("@EVERY 1h30m", "2026-03-28T13:30:00"),
    ],
)
def test_next_tick_after(spec: str, expected: str) -> None:
    assert ScheduleSpec.parse(spec).next_after(T0) == utc(expected)


def test_next_after_is_strictly_after() -> None:
    spec = ScheduleSpec.parse("* * * * * *")
    assert spec.next_after(100.0) == 101.0
    assert spec.next_after(100.5) == 101.0
    assert ScheduleSpec.parse("@every 10s").next_after(100.0) == 110.0


def test_a_time_zone_moves_the_ticks_and_follows_dst() -> None:
    paris = ScheduleSpec.parse("0 9 * * *", "Europe/Paris")
    saturday = paris.next_after(utc("2026-03-28T05:00:00"))
    sunday = paris.next_after(saturday)
    assert dt.datetime.fromtimestamp(sunday, zoneinfo.ZoneInfo("Europe/Paris")).hour == 9
    assert saturday == utc("2026-03-28T08:00:00")  # CET: UTC+1 ...
    assert sunday == utc("2026-03-29T07:00:00")  # ... CEST from the 29th at 2:00: UTC+2
    assert ScheduleSpec.parse("0 9 * * *").next_after(T0) == utc("2026-03-29T09:00:00")  # UTC by default


def test_latest_ticks_keeps_the_newest_within_the_limit() -> None:
    spec = ScheduleSpec.parse("*/10 * * * * *")
    assert spec.latest_ticks(100, 100, 5) == []
    assert spec.latest_ticks(95, 140, 10) == [100, 110, 120, 130, 140]
    assert spec.latest_ticks(95, 145, 2) == [130, 140]
    assert spec.latest_ticks(100, 110, 10) == [110]  # `after` excluded, `until` included
    assert ScheduleSpec.parse("@every 10s").latest_ticks(95, 145, 2) == [130, 140]


@given(st.sampled_from(["*/7 * * * * *", "@every 13s", "0 */5 * * * *", "5 4 * * *"]),
       st.floats(min_value=1e9, max_value=2e9), st.integers(min_value=1, max_value=20))  # fmt: skip
def test_latest_ticks_are_consecutive_ticks_in_the_window(text: str, until: float, limit: int) -> None:
    spec = ScheduleSpec.parse(text)
    after = until - 3 * 86400
    ticks = spec.latest_ticks(after, until, limit)
    assert 1 <= len(ticks) <= limit
    assert all(after < t <= until for t in ticks)
    assert spec.next_after(ticks[-1]) > until  # the newest tick of the window
    assert all(spec.next_after(a) == b for a, b in itertools.pairwise(ticks))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("* * *", "5 fields"),
        ("* * * * * * *", "5 fields"),
        ("61 * * * *", "minute"),
        ("* * 32 * *", "day"),
        ("@fortnightly", "unknown descriptor"),
        ("@every", "unknown descriptor"),
        ("@every 500ms", "at least 1s"),
        ("@every soon", "duration"),
        ("@every -5s", "duration"),
    ],
)
def test_bad_specs_raise_a_typed_error(spec: str, reason: str) -> None:
    with pytest.raises(InvalidScheduleSpecError, match=reason) as caught:
        ScheduleSpec.parse(spec)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_time_zone_raises(zone: str) -> None:
    with pytest.raises(InvalidTimezoneError):
        ScheduleSpec.parse("@hourly", zone)


def test_misfire_policies_pick_the_ticks_to_fire() -> None:
    spec = ScheduleSpec.parse("@every 1s")
    assert MisfirePolicy().due(spec, 100, 100.5) == []
    assert MisfirePolicy().due(spec, 100, 101.2) == [101]  # on time
    assert MisfirePolicy().mode is Misfire.ONCE
    assert MisfirePolicy("once").due(spec, 100, 110.5) == [110]
    assert MisfirePolicy("all", limit=3).due(spec, 100, 110.5) == [108, 109, 110]
    assert MisfirePolicy("all").due(spec, 100, 110.5) == [float(t) for t in range(101, 111)]
    assert MisfirePolicy("skip").due(spec, 100, 110.5) == [110]  # 0.5 s late: within the grace
    assert MisfirePolicy("skip", grace=0.1).due(spec, 100, 110.5) == []
    assert MisfirePolicy.of("ALL") == MisfirePolicy(Misfire.ALL)


@pytest.mark.parametrize("bad", [{"mode": "never"}, {"limit": 0}, {"limit": True}, {"grace": -1.0}])
def test_bad_misfire_policies_raise(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidMisfirePolicyError):
        MisfirePolicy(**bad)  # type: ignore[arg-type]


def test_tick_ids_are_deterministic_per_name_and_tick() -> None:
    assert tick_task_id("report", 60.0) == tick_task_id("report", 60.0)
    assert tick_task_id("report", 60.0) != tick_task_id("report", 120.0)
    assert tick_task_id("report", 60.0) != tick_task_id("other", 60.0)
    assert tick_task_id("report", 60.0).version == 5


def test_names_are_trimmed_and_checked() -> None:
    assert check_name("  nightly-report ") == "nightly-report"
    for bad in ["", "   ", "two words", "tab\there", "x" * 201, 42]:
        with pytest.raises(InvalidScheduleNameError):
            check_name(bad)
