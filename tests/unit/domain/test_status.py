"""Task statuses: wire names, Go values, the transition table, and Task bookkeeping."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyworker.domain.errors import InvalidTransitionError, WorkerError
from pyworker.domain.status import TERMINAL_STATUSES, TRANSITIONS, TaskStatus, check_transition
from pyworker.domain.task import Task

S = TaskStatus

WIRE = [
    (S.UNKNOWN, "Unknown", 0),
    (S.CONTEXT_DEADLINE_REACHED, "ContextDeadlineReached", 1),
    (S.WAITING_RETRY, "RateLimited", 2),
    (S.CANCELLED, "Cancelled", 3),
    (S.FAILED, "Failed", 4),
    (S.QUEUED, "Queued", 5),
    (S.RUNNING, "Running", 6),
    (S.INVALID, "Invalid", 7),
    (S.COMPLETED, "Completed", 8),
]
TERMINAL = {S.CONTEXT_DEADLINE_REACHED, S.CANCELLED, S.FAILED, S.INVALID, S.COMPLETED}
NON_TERMINAL = {S.UNKNOWN, S.QUEUED, S.RUNNING, S.WAITING_RETRY}


@pytest.mark.parametrize(("status", "wire", "value"), WIRE)
def test_wire_name_and_go_value(status: TaskStatus, wire: str, value: int) -> None:
    assert status.wire_name == wire
    assert str(status) == wire
    assert int(status) == value
    assert TaskStatus(value) is status


@pytest.mark.parametrize(("status", "wire", "value"), WIRE)
def test_from_wire_round_trips(status: TaskStatus, wire: str, value: int) -> None:
    assert TaskStatus.from_wire(wire) is status


@pytest.mark.parametrize("name", ["", "queued", "Done", "RATE_LIMITED"])
def test_from_wire_unknown_names_map_to_unknown(name: str) -> None:
    assert TaskStatus.from_wire(name) is S.UNKNOWN


def test_rate_limited_is_waiting_retry() -> None:
    assert TaskStatus["RATE_LIMITED"] is S.WAITING_RETRY  # by name: mypy types each member name as its own literal
    assert S.RATE_LIMITED.wire_name == "RateLimited"
    assert len(list(TaskStatus)) == 9


def test_terminal_set() -> None:
    assert set(TERMINAL_STATUSES) == TERMINAL
    assert {s for s in TaskStatus if s.is_terminal} == TERMINAL
    assert {s for s in TaskStatus if not s.is_terminal} == NON_TERMINAL


LEGAL = [
    (S.UNKNOWN, S.QUEUED),
    (S.UNKNOWN, S.INVALID),
    (S.UNKNOWN, S.RUNNING),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CONTEXT_DEADLINE_REACHED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.WAITING_RETRY),
    (S.WAITING_RETRY, S.QUEUED),
    (S.WAITING_RETRY, S.CANCELLED),
    (S.WAITING_RETRY, S.FAILED),
]


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_legal_moves_are_allowed(source: TaskStatus, target: TaskStatus) -> None:
    assert check_transition(source, target) is True


@pytest.mark.parametrize("source", sorted(TERMINAL))
@pytest.mark.parametrize("target", sorted(TERMINAL))
def test_terminal_to_terminal_is_ignored(source: TaskStatus, target: TaskStatus) -> None:
    assert check_transition(source, target) is False


@pytest.mark.parametrize("source", sorted(TERMINAL))
def test_terminal_statuses_have_no_outgoing_edges(source: TaskStatus) -> None:
    assert TRANSITIONS[source] == frozenset()


ILLEGAL = [
    (S.QUEUED, S.COMPLETED),
    (S.QUEUED, S.WAITING_RETRY),
    (S.QUEUED, S.QUEUED),
    (S.RUNNING, S.RUNNING),
    (S.RUNNING, S.QUEUED),
    (S.WAITING_RETRY, S.RUNNING),
    (S.WAITING_RETRY, S.COMPLETED),
    (S.COMPLETED, S.QUEUED),
    (S.CANCELLED, S.RUNNING),
    (S.FAILED, S.WAITING_RETRY),
    (S.INVALID, S.UNKNOWN),
    (S.RUNNING, S.UNKNOWN),
]


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_illegal_moves_raise(source: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(InvalidTransitionError) as info:
        check_transition(source, target)
    assert isinstance(info.value, WorkerError)
    assert info.value.source is source
    assert info.value.target is target
    assert str(info.value) == f"illegal status transition {source.wire_name} -> {target.wire_name}"


def test_every_pair_is_classified_consistently() -> None:
    for source in TaskStatus:
        for target in TaskStatus:
            if target in TRANSITIONS[source]:
                assert check_transition(source, target) is True
            elif source in TERMINAL and target in TERMINAL:
                assert check_transition(source, target) is False
            else:
                with pytest.raises(InvalidTransitionError):
                    check_transition(source, target)


def _legal_from(status: TaskStatus) -> list[TaskStatus]:
    return sorted(TRANSITIONS[status])


def _distance_to_terminal() -> dict[TaskStatus, int]:
    distance = dict.fromkeys(TERMINAL, 0)
    changed = True
    while changed:
        changed = False
        for source, targets in TRANSITIONS.items():
            reachable = [distance[t] for t in targets if t in distance]
            if reachable and source not in distance:
                distance[source] = 1 + min(reachable)
                changed = True
    return distance


def test_every_status_can_reach_a_terminal_status() -> None:
    assert set(_distance_to_terminal()) == set(TaskStatus)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), length=st.integers(min_value=1, max_value=60))
def test_legal_random_walk_is_absorbed_by_a_terminal_status(data: st.DataObject, length: int) -> None:
    # The walk takes random legal moves; every 8th step it takes the shortest
    # route to a terminal status, so a long enough walk always gets there.
    distance = _distance_to_terminal()
    status = data.draw(st.sampled_from(sorted(TaskStatus)), label="start")
    reached: TaskStatus | None = None
    for step in range(length + 8 * len(TaskStatus)):
        if status in TERMINAL:
            reached = reached or status
            target = data.draw(st.sampled_from(sorted(TaskStatus)), label="later")
            if target in TERMINAL:
                assert check_transition(status, target) is False
            else:
                with pytest.raises(InvalidTransitionError):
                    check_transition(status, target)
            continue  # absorbed: the status never changes again
        options = _legal_from(status)
        assert options, f"{status} is a dead end"
        if step % 8 == 7:
            target = min(options, key=lambda t: distance[t])
        else:
            target = data.draw(st.sampled_from(options), label="move")
        assert check_transition(status, target) is True
        status = target
    assert reached is not None
    assert status is reached


@settings(max_examples=200, deadline=None)
@given(moves=st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=40))
def test_task_random_walk_never_leaves_its_first_terminal_status(moves: list[int]) -> None:
    task = Task(execute=lambda ctx: None)
    first_terminal: TaskStatus | None = None
    for now, choice in enumerate(moves):
        status = task.status
        if status in TERMINAL:
            target = sorted(TERMINAL)[choice % len(TERMINAL)]
            assert task.transition(target, float(now)) is False
        else:
            options = _legal_from(status)
            target = options[choice % len(options)]
            assert task.transition(target, float(now)) is True
            if target in TERMINAL:
                first_terminal = target
        if first_terminal is not None:
            assert task.status is first_terminal


def _fn(ctx: object) -> None:
    return None


def test_task_starts_unknown_with_no_timestamps() -> None:
    task = Task(execute=_fn)
    assert task.status is S.UNKNOWN
    assert task.attempts == 0
    assert task.started_at is None
    assert task.completed_at is None
    assert task.cancelled_at is None
    assert task.terminal_at is None


def test_running_records_start_time_and_counts_attempts() -> None:
    task = Task(execute=_fn)
    assert task.transition(S.QUEUED, 1.0)
    assert (task.started_at, task.attempts) == (None, 0)
    assert task.transition(S.RUNNING, 2.0)
    assert (task.started_at, task.attempts) == (2.0, 1)
    assert task.transition(S.WAITING_RETRY, 3.0)
    assert task.transition(S.QUEUED, 4.0)
    assert task.transition(S.RUNNING, 5.0)
    assert (task.started_at, task.attempts) == (5.0, 2)
    assert task.completed_at is None


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.CONTEXT_DEADLINE_REACHED])
def test_finish_records_completed_at_and_outcome(status: TaskStatus) -> None:
    task = Task(execute=_fn)
    task.transition(S.QUEUED, 1.0)
    task.transition(S.RUNNING, 2.0)
    error = RuntimeError("boom")
    assert task.finish(status, 3.0, "value", error) is True
    assert task.status is status
    assert task.completed_at == 3.0
    assert task.terminal_at == 3.0
    assert task.cancelled_at is None
    assert task.result == "value"
    assert task.error is error


def test_cancel_records_cancelled_at() -> None:
    task = Task(execute=_fn)
    task.transition(S.QUEUED, 1.0)
    assert task.finish(S.CANCELLED, 2.5, None, None) is True
    assert task.status is S.CANCELLED
    assert task.cancelled_at == 2.5
    assert task.terminal_at == 2.5
    assert task.completed_at is None
    assert task.attempts == 0


def test_second_finish_returns_false_and_keeps_the_first_outcome() -> None:
    task = Task(execute=_fn)
    task.transition(S.QUEUED, 1.0)
    task.transition(S.RUNNING, 2.0)
    assert task.finish(S.COMPLETED, 3.0, "first", None) is True
    assert task.finish(S.FAILED, 4.0, "second", RuntimeError("late")) is False
    assert task.finish(S.CANCELLED, 5.0, None, None) is False
    assert task.status is S.COMPLETED
    assert task.result == "first"
    assert task.error is None
    assert task.completed_at == 3.0
    assert task.cancelled_at is None


def test_illegal_task_transition_raises_and_leaves_state() -> None:
    task = Task(execute=_fn)
    task.transition(S.QUEUED, 1.0)
    with pytest.raises(InvalidTransitionError):
        task.transition(S.COMPLETED, 2.0)
    assert task.status is S.QUEUED
    assert task.completed_at is None


def test_mark_invalid() -> None:
    task = Task(execute=_fn, id=uuid.uuid4())
    error = ValueError("bad")
    task.mark_invalid(error)
    assert task.status is S.INVALID
    assert task.error is error
