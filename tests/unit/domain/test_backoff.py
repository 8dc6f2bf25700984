"""Retry backoff: golden jitter values (docs/task-manager.md#retries-and-backoff), the cap, and jitter bounds."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyworker.domain.backoff import (
    MAX_BACKOFF_NS,
    apply_jitter_ns,
    capped_backoff_ns,
    jitter_hash,
    retry_delay,
    retry_delay_ns,
)

SECOND = 1_000_000_000
MS = 1_000_000
ID_1 = uuid.UUID("11111111-2222-3333-4444-555555555555")
ID_F = uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
ID_8 = uuid.UUID("8c0f8b2d-0a4d-4a3b-9ad7-2d2a5b7f5d12")

# (task id, attempt, capped base delay in ns, jittered delay in ns), docs/task-manager.md#retries-and-backoff.
GOLDEN = [
    (ID_1, 1, 1 * SECOND, 933072894),
    (ID_1, 2, 2 * SECOND, 2062318141),
    (ID_1, 3, 4 * SECOND, 4397087868),
    (ID_1, 4, 8 * SECOND, 8026333627),
    (ID_1, 1, 50 * MS, 48072894),
    (ID_1, 1, 10 * MS, 10072894),
    (ID_F, 1, 1 * SECOND, 982269761),
    (ID_F, 2, 2 * SECOND, 1964539522),
    (ID_8, 1, 1 * SECOND, 1093261671),
    (ID_8, 2, 2 * SECOND, 1841944228),
]


@pytest.mark.parametrize(("task_id", "attempt", "base_ns", "expected"), GOLDEN)
def test_apply_jitter_matches_golden_values(task_id: uuid.UUID, attempt: int, base_ns: int, expected: int) -> None:
    assert apply_jitter_ns(base_ns, task_id, attempt) == expected


@pytest.mark.parametrize(("task_id", "attempt", "base_ns", "expected"), GOLDEN)
def test_retry_delay_ns_matches_golden_values(task_id: uuid.UUID, attempt: int, base_ns: int, expected: int) -> None:
    # The table's base is already doubled: base = RetryDelay * 2^(attempt-1).
    retry_delay_base = base_ns // 2 ** (attempt - 1)
    assert retry_delay_ns(retry_delay_base, attempt, task_id) == expected


def test_retry_delay_in_seconds_matches_golden_value() -> None:
    assert retry_delay(1.0, 1, ID_1) == pytest.approx(0.933072894, abs=1e-12)
    assert retry_delay(1.0, 2, ID_1) == pytest.approx(2.062318141, abs=1e-12)


@pytest.mark.parametrize("base_ns", [1, 2, 3, 4])
@pytest.mark.parametrize("task_id", [ID_1, ID_F, ID_8])
def test_tiny_bases_are_returned_unchanged(base_ns: int, task_id: uuid.UUID) -> None:
    assert apply_jitter_ns(base_ns, task_id, 1) == base_ns
    assert retry_delay_ns(base_ns, 1, task_id) == base_ns


@pytest.mark.parametrize("task_id", [ID_1, ID_F, ID_8])
def test_five_nanoseconds_has_span_one_and_offset_zero(task_id: uuid.UUID) -> None:
    assert apply_jitter_ns(5, task_id, 1) == 5


def test_zero_hash_means_no_jitter() -> None:
    # L xor R xor attempt == 0 makes the xorshift hash 0.
    zero_id = uuid.UUID(bytes=(1).to_bytes(8, "little") + (0).to_bytes(8, "little"))
    assert jitter_hash(zero_id, 1) == 0
    assert apply_jitter_ns(SECOND, zero_id, 1) == SECOND


@pytest.mark.parametrize("attempt", [7, 8, 20, 64, 1000])
def test_large_attempts_cap_the_base_at_one_minute_before_jitter(attempt: int) -> None:
    assert capped_backoff_ns(SECOND, attempt) == MAX_BACKOFF_NS == 60 * SECOND
    for task_id in (ID_1, ID_F, ID_8):
        delay = retry_delay_ns(SECOND, attempt, task_id)
        assert 54 * SECOND <= delay < 66 * SECOND
        assert delay == apply_jitter_ns(60 * SECOND, task_id, attempt)


def test_doubling_below_the_cap() -> None:
    assert [capped_backoff_ns(SECOND, k) for k in range(1, 8)] == [
        1 * SECOND,
        2 * SECOND,
        4 * SECOND,
        8 * SECOND,
        16 * SECOND,
        32 * SECOND,
        60 * SECOND,
    ]


def test_base_above_the_cap_is_capped() -> None:
    assert capped_backoff_ns(120 * SECOND, 1) == 60 * SECOND


@pytest.mark.parametrize("base_ns", [0, -1, -SECOND])
def test_non_positive_base_means_one_second(base_ns: int) -> None:
    assert capped_backoff_ns(base_ns, 1) == SECOND
    assert retry_delay_ns(base_ns, 1, ID_1) == 933072894
    assert retry_delay(0.0, 1, ID_1) == pytest.approx(0.933072894, abs=1e-12)


uuids = st.uuids()
attempts = st.integers(min_value=1, max_value=100)
bases = st.integers(min_value=-SECOND, max_value=10 * 60 * SECOND)


@settings(max_examples=200, deadline=None)
@given(base_ns=bases, attempt=attempts, task_id=uuids)
def test_jittered_delay_stays_within_ten_percent_of_capped_delay(
    base_ns: int, attempt: int, task_id: uuid.UUID
) -> None:
    capped = capped_backoff_ns(base_ns, attempt)
    assert 0 < capped <= MAX_BACKOFF_NS
    delay = retry_delay_ns(base_ns, attempt, task_id)
    assert capped - capped // 10 - 1 <= delay <= capped + capped // 10


@settings(max_examples=200, deadline=None)
@given(base_ns=bases, attempt=attempts, task_id=uuids)
def test_jitter_is_deterministic(base_ns: int, attempt: int, task_id: uuid.UUID) -> None:
    same_id = uuid.UUID(str(task_id))
    assert retry_delay_ns(base_ns, attempt, task_id) == retry_delay_ns(base_ns, attempt, same_id)


@settings(max_examples=200, deadline=None)
@given(base_ns=bases, attempt=attempts, task_id=uuids)
def test_delay_never_exceeds_66_seconds(base_ns: int, attempt: int, task_id: uuid.UUID) -> None:
    assert retry_delay_ns(base_ns, attempt, task_id) <= 66 * SECOND


@settings(max_examples=200, deadline=None)
@given(delay_ns=st.integers(min_value=5, max_value=10**15), attempt=attempts, task_id=uuids)
def test_apply_jitter_stays_in_half_span(delay_ns: int, attempt: int, task_id: uuid.UUID) -> None:
    span = delay_ns // 5
    jittered = apply_jitter_ns(delay_ns, task_id, attempt)
    assert delay_ns - span // 2 <= jittered < delay_ns - span // 2 + span
