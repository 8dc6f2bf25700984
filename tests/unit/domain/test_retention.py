"""Retention: policy normalisation, sweep timing and which terminal tasks are pruned."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyworker.domain.retention import RetentionPolicy, prune_selection


def test_defaults_disable_retention() -> None:
    policy = RetentionPolicy()
    assert (policy.ttl, policy.max_entries, policy.cleanup_interval) == (0.0, 0, 0.0)
    assert policy.enabled is False


def test_negatives_normalise_to_zero() -> None:
    policy = RetentionPolicy(ttl=-5, max_entries=-3, cleanup_interval=-1)
    assert (policy.ttl, policy.max_entries, policy.cleanup_interval) == (0.0, 0, 0.0)
    assert policy.enabled is False


def test_timedelta_accepted() -> None:
    policy = RetentionPolicy(ttl=dt.timedelta(minutes=5), cleanup_interval=dt.timedelta(seconds=7))
    assert policy.ttl == 300.0
    assert policy.cleanup_interval == 7.0


def test_enabled_by_ttl_or_max_entries() -> None:
    assert RetentionPolicy(ttl=1).enabled
    assert RetentionPolicy(max_entries=1).enabled


@pytest.mark.parametrize(
    ("ttl", "cleanup_interval", "expected"),
    [
        (100.0, 5.0, 5.0),  # explicit interval wins
        (0.0, 5.0, 5.0),
        (10.0, 0.0, 5.0),  # ttl/2
        (1.0, 0.0, 1.0),  # ttl/2 = 0.5 clamped up to 1 s
        (0.1, 0.0, 1.0),
        (60.0, 0.0, 30.0),
        (120.0, 0.0, 60.0),
        (3600.0, 0.0, 60.0),  # clamped down to 1 m
        (0.0, 0.0, 60.0),  # no ttl: 1 m
    ],
)
def test_interval(ttl: float, cleanup_interval: float, expected: float) -> None:
    assert RetentionPolicy(ttl=ttl, cleanup_interval=cleanup_interval).interval == expected


def test_ttl_sweep_due() -> None:
    policy = RetentionPolicy(ttl=10)  # interval 5
    assert policy.ttl_sweep_due(now=100.0, last_check=None)
    assert not policy.ttl_sweep_due(now=104.9, last_check=100.0)
    assert policy.ttl_sweep_due(now=105.0, last_check=100.0)
    assert policy.ttl_sweep_due(now=200.0, last_check=100.0)


def test_ttl_sweep_never_due_without_ttl() -> None:
    policy = RetentionPolicy(max_entries=10, cleanup_interval=1)
    assert not policy.ttl_sweep_due(now=1000.0, last_check=None)
    assert not policy.ttl_sweep_due(now=1000.0, last_check=0.0)


def test_should_prune_by_ttl_timing() -> None:
    policy = RetentionPolicy(ttl=10)
    assert policy.should_prune(now=100.0, last_check=None, size=0)
    assert not policy.should_prune(now=101.0, last_check=100.0, size=1_000_000)
    assert policy.should_prune(now=105.0, last_check=100.0, size=0)


def test_should_prune_by_size() -> None:
    policy = RetentionPolicy(max_entries=3)
    assert not policy.should_prune(now=0.0, last_check=None, size=3)
    assert policy.should_prune(now=0.0, last_check=None, size=4)


def test_disabled_policy_never_prunes() -> None:
    assert not RetentionPolicy().should_prune(now=1e9, last_check=None, size=10**6)


def _ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(count)]


def test_ttl_removes_terminal_tasks_at_least_ttl_old() -> None:
    a, b, c, d = _ids(4)
    terminal = [(90.0, a), (80.0, b), (91.0, c), (99.0, d)]
    removed = prune_selection(RetentionPolicy(ttl=10), terminal, size=10, now=100.0, ttl_sweep=True)
    assert set(removed) == {a, b}  # a is exactly ttl old: removed; c is 9 s old: kept


def test_ttl_is_skipped_when_not_sweeping() -> None:
    a, b = _ids(2)
    terminal = [(0.0, a), (1.0, b)]
    assert prune_selection(RetentionPolicy(ttl=10), terminal, size=2, now=100.0, ttl_sweep=False) == []


def test_max_entries_removes_oldest_terminal_first() -> None:
    a, b, c, d = _ids(4)
    terminal = [(30.0, a), (10.0, b), (40.0, c), (20.0, d)]
    removed = prune_selection(RetentionPolicy(max_entries=5), terminal, size=7, now=100.0, ttl_sweep=False)
    assert removed == [b, d]


def test_max_entries_nothing_when_within_limit() -> None:
    a, b = _ids(2)
    removed = prune_selection(RetentionPolicy(max_entries=5), [(1.0, a), (2.0, b)], size=5, now=9.0, ttl_sweep=True)
    assert removed == []


def test_ttl_removals_count_toward_max_entries() -> None:
    a, b, c, d = _ids(4)
    terminal = [(10.0, a), (95.0, b), (96.0, c), (97.0, d)]
    policy = RetentionPolicy(ttl=50, max_entries=2)
    removed = prune_selection(policy, terminal, size=4, now=100.0, ttl_sweep=True)
    assert removed == [a, b]


def test_non_terminal_tasks_are_never_removed_so_size_may_stay_above_limit() -> None:
    # 10 tasks registered, only 2 terminal: both go, the registry keeps 8 > 3.
    a, b = _ids(2)
    removed = prune_selection(RetentionPolicy(max_entries=3), [(5.0, a), (1.0, b)], size=10, now=9.0, ttl_sweep=False)
    assert removed == [b, a]


@settings(max_examples=200, deadline=None)
@given(
    ages=st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), max_size=30),
    non_terminal=st.integers(min_value=0, max_value=30),
    ttl=st.floats(min_value=0, max_value=1000, allow_nan=False),
    max_entries=st.integers(min_value=0, max_value=40),
    sweep=st.booleans(),
)
def test_prune_selection_properties(
    ages: list[float], non_terminal: int, ttl: float, max_entries: int, sweep: bool
) -> None:
    now = 1000.0
    terminal = [(now - age, uuid.UUID(int=i + 1)) for i, age in enumerate(ages)]
    size = len(terminal) + non_terminal
    policy = RetentionPolicy(ttl=ttl, max_entries=max_entries)
    removed = prune_selection(policy, terminal, size=size, now=now, ttl_sweep=sweep)
    terminal_ids = {task_id for _, task_id in terminal}
    assert set(removed) <= terminal_ids
    assert len(set(removed)) == len(removed)
    remaining = size - len(removed)
    if max_entries > 0:
        # Either it fits, or every terminal task is gone.
        assert remaining <= max_entries or set(removed) == terminal_ids
    if sweep and ttl > 0:
        assert {task_id for at, task_id in terminal if at <= now - ttl} <= set(removed)
    if not policy.enabled or (not sweep and max_entries == 0):
        assert removed == []
