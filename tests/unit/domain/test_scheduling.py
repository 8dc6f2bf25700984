"""Ordering within a queue, queue-name normalisation, and the weighted round robin."""

from __future__ import annotations

from collections import Counter, deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyworker.domain.scheduling import (
    DEFAULT_QUEUE,
    WeightedRoundRobin,
    normalize_queue,
    normalize_queue_weights,
    normalize_weight,
    ordering_key,
)


def test_lower_priority_first() -> None:
    assert ordering_key(1, 0, 5) < ordering_key(10, 0, 0)
    assert ordering_key(-5, 1, 9) < ordering_key(0, 100, 0)


def test_higher_weight_first_among_equal_priority() -> None:
    assert ordering_key(3, 5, 9) < ordering_key(3, 1, 0)


def test_fifo_among_equal_priority_and_weight() -> None:
    assert ordering_key(3, 2, 0) < ordering_key(3, 2, 1)


def test_sorting_tasks_by_ordering_key() -> None:
    # (name, priority, weight) in registration order.
    tasks = [("a", 5, 1), ("b", 1, 1), ("c", 1, 3), ("d", 1, 1), ("e", 0, 0)]
    ordered = sorted((ordering_key(priority, weight, seq), name) for seq, (name, priority, weight) in enumerate(tasks))
    assert [name for _, name in ordered] == ["e", "c", "b", "d", "a"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("emails", "emails"),
        ("  emails \t", "emails"),
        ("", DEFAULT_QUEUE),
        ("   ", DEFAULT_QUEUE),
        (None, DEFAULT_QUEUE),
    ],
)
def test_normalize_queue(name: str | None, expected: str) -> None:
    assert normalize_queue(name) == expected


def test_normalize_queue_with_configured_default() -> None:
    assert DEFAULT_QUEUE == "default"
    assert normalize_queue("", default="critical") == "critical"
    assert normalize_queue(None, default=" critical ") == "critical"
    assert normalize_queue("", default="  ") == "default"
    assert normalize_queue(" x ", default="critical") == "x"


@pytest.mark.parametrize(("weight", "expected"), [(-3, 1), (0, 1), (1, 1), (7, 7)])
def test_normalize_weight(weight: int, expected: int) -> None:
    assert normalize_weight(weight) == expected


def test_normalize_queue_weights() -> None:
    assert normalize_queue_weights(None) == {}
    assert normalize_queue_weights({" a ": 3, "b": 0, "c": -2, "  ": 9, "d": 5}) == {
        "a": 3,
        "b": 1,
        "c": 1,
        "d": 5,
    }


def test_normalize_queue_weights_copies() -> None:
    source = {"a": 2}
    result = normalize_queue_weights(source)
    result["a"] = 99
    assert source == {"a": 2}


class Queues:
    """Plain in-memory queues for driving the round robin."""

    def __init__(self, rr: WeightedRoundRobin, **items: list[str]) -> None:
        self.rr = rr
        self.items = {name: deque(values) for name, values in items.items()}
        for name in self.items:
            rr.add(name)

    def put(self, name: str, *values: str) -> None:
        self.items.setdefault(name, deque()).extend(values)
        self.rr.add(name)

    def has_work(self, name: str) -> bool:
        return bool(self.items.get(name))

    def next(self) -> str | None:
        name = self.rr.pick(self.has_work)
        if name is None:
            return None
        return self.items[name].popleft()

    def drain(self) -> list[str]:
        out = []
        while (value := self.next()) is not None:
            out.append(value)
        return out


def test_spec_example_a2_b1() -> None:
    queues = Queues(WeightedRoundRobin(weights={"a": 2, "b": 1}), a=["a1", "a2", "a3"], b=["b1", "b2", "b3"])
    assert queues.drain() == ["a1", "a2", "b1", "a3", "b2", "b3"]


def test_queues_are_visited_alphabetically_regardless_of_add_order() -> None:
    rr = WeightedRoundRobin()
    for name in ["c", "a", "b"]:
        rr.add(name)
    assert rr.names == ["a", "b", "c"]
    assert [rr.pick(lambda _: True) for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_add_is_idempotent() -> None:
    rr = WeightedRoundRobin()
    rr.add("a")
    rr.add("a")
    assert rr.names == ["a"]


def test_weight_defaults_to_one() -> None:
    rr = WeightedRoundRobin(weights={"a": 3})
    assert rr.weight_of("a") == 3
    assert rr.weight_of("b") == 1
    queues = Queues(rr, a=["a1", "a2", "a3", "a4"], b=["b1", "b2"])
    assert queues.drain() == ["a1", "a2", "a3", "b1", "a4", "b2"]


def test_pick_returns_none_without_queues() -> None:
    assert WeightedRoundRobin().pick(lambda _: True) is None


def test_pick_returns_none_when_all_empty() -> None:
    rr = WeightedRoundRobin(weights={"a": 2})
    rr.add("a")
    rr.add("b")
    assert rr.pick(lambda _: False) is None


def test_empty_queues_are_skipped() -> None:
    queues = Queues(WeightedRoundRobin(), a=[], b=["b1", "b2"], c=["c1"])
    assert queues.drain() == ["b1", "c1", "b2"]


def test_empty_queue_quota_is_reset() -> None:
    # a (weight 3) serves once, then runs dry: its leftover quota is dropped, so
    # when it has work again it serves a full 3 in a row rather than the remaining 2.
    queues = Queues(WeightedRoundRobin(weights={"a": 3}), a=["a1"], b=["b1", "b2", "b3", "b4", "b5"])
    assert queues.next() == "a1"
    assert queues.next() == "b1"  # a is empty: skipped, quota reset, cursor moves to b
    queues.put("a", "a2", "a3", "a4", "a5")
    assert queues.next() == "a2"  # b's quota (1) was used up, the cursor is back on a
    assert [queues.next() for _ in range(3)] == ["a3", "a4", "b2"]


def test_quota_is_kept_while_queue_has_work() -> None:
    # Without a reset, a weight-3 queue serves three in a row.
    queues = Queues(WeightedRoundRobin(weights={"a": 3}), a=["a1", "a2", "a3", "a4"], b=["b1"])
    assert queues.drain() == ["a1", "a2", "a3", "b1", "a4"]


def test_queue_added_later_joins_the_rotation() -> None:
    queues = Queues(WeightedRoundRobin(), b=["b1", "b2", "b3", "b4"])
    assert queues.next() == "b1"
    queues.put("c", "c1", "c2")
    queues.put("a", "a1")
    # The cursor keeps its index (0) as go-worker's does, so "a" (now at index 0) is next.
    assert queues.drain() == ["a1", "b2", "c1", "b3", "c2", "b4"]


weight_maps = st.dictionaries(
    keys=st.text(alphabet="abcdefgh", min_size=1, max_size=3),
    values=st.integers(min_value=1, max_value=6),
    min_size=1,
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(weights=weight_maps, cycles=st.integers(min_value=1, max_value=5))
def test_share_matches_weights_per_full_cycle(weights: dict[str, int], cycles: int) -> None:
    rr = WeightedRoundRobin(weights=weights)
    for name in weights:
        rr.add(name)
    cycle = sum(weights.values())
    for _ in range(cycles):
        picks = Counter(rr.pick(lambda _: True) for _ in range(cycle))
        assert picks == Counter(weights)


@settings(max_examples=200, deadline=None)
@given(weights=weight_maps)
def test_each_queue_serves_its_weight_in_a_row(weights: dict[str, int]) -> None:
    rr = WeightedRoundRobin(weights=weights)
    for name in weights:
        rr.add(name)
    picks = [rr.pick(lambda _: True) for _ in range(sum(weights.values()))]
    expected = [name for name in sorted(weights) for _ in range(weights[name])]
    assert picks == expected
