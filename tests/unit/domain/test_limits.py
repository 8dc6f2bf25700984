"""The cluster-wide limits as values: the token bucket's arithmetic and what a limit may be."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyworker.domain import ConfigurationError, DurableLimits
from pyworker.domain.limits import TokenBucket, bucket_ttl_ms


def test_a_full_bucket_refills_by_time_up_to_its_burst_only() -> None:
    bucket = TokenBucket.full(4, 2, now_ms=1_000).take(2)
    assert bucket.available == 0
    assert bucket.next_token_ms() == 1_250  # 4/s: a token every 250 ms
    assert bucket.refilled(1_249).available == 0
    assert bucket.refilled(1_250).available == 1
    assert bucket.refilled(60_000).tokens == 2.0


def test_time_going_back_neither_refills_nor_moves_the_count_back() -> None:
    bucket = TokenBucket.full(10, 5, now_ms=2_000).take(5).refilled(1_000)
    assert (bucket.tokens, bucket.at_ms) == (0.0, 2_000)


@given(st.floats(0.1, 1000), st.integers(1, 1000), st.lists(st.integers(0, 5_000), max_size=30))
def test_a_bucket_never_grants_more_than_burst_plus_rate_times_time(rate: float, burst: int, steps: list[int]) -> None:
    now, granted = 0, 0
    bucket = TokenBucket.full(rate, burst, now)
    for step in steps:
        now += step
        bucket = bucket.refilled(now)
        granted += bucket.available
        bucket = bucket.take(bucket.available)
    assert granted <= burst + rate * now / 1000 + 1e-6


def test_the_ttl_outlasts_a_full_refill_and_one_second() -> None:
    assert bucket_ttl_ms(50, 10) == 1_000
    assert bucket_ttl_ms(1, 10) == 20_000


@pytest.mark.parametrize(
    ("rate_limit", "caps"),
    [((0, 1), None), ((float("nan"), 1), None), ((1, 0), None), (("x", 1), None), ((1,), None),
     (None, {"q": 0}), (None, {"q": True}), (None, {"": 1}), (None, {"a\tb": 1})],
)  # fmt: skip
def test_out_of_range_limits_are_configuration_errors(rate_limit: object, caps: object) -> None:
    with pytest.raises(ConfigurationError):
        DurableLimits(rate_limit, caps)  # type: ignore[arg-type]


def test_limits_are_normalised_values() -> None:
    limits = DurableLimits((50, 10.0), {" reports ": 3})  # type: ignore[arg-type]
    assert limits == DurableLimits((50.0, 10), {"reports": 3})
    assert not limits.empty
    assert DurableLimits().empty
