"""``stored_task``: the trusted constructor a backend uses for values it reads back."""

from __future__ import annotations

import uuid

import attrs

from pyworker.domain import DurableLease, DurableTask, stored_lease, stored_task


def test_stored_task_equals_the_same_task_built_through_the_converters() -> None:
    task_id = uuid.uuid4()
    fast = stored_task("h", b"p", task_id, -2, 1_700_000_000.5, "q", 3, 4, 1.5, {"k": "v"}, "key", "name")

    slow = DurableTask(handler="h", payload=b"p", id=task_id, priority=-2, run_at=1_700_000_000.5, queue="q",
                       weight=3, retries=4, retry_delay=1.5, metadata={"k": "v"}, idempotency_key="key",
                       name="name")  # fmt: skip
    assert fast == slow
    # Every field is set (a field added to DurableTask and forgotten here would be unset).
    assert attrs.asdict(fast) == attrs.asdict(slow)
    assert {a.name for a in attrs.fields(DurableTask)} == set(attrs.asdict(fast))


def test_stored_task_stays_frozen() -> None:
    task = stored_task("h", b"p", uuid.uuid4(), 0, None, "default", 1, 0, 0.0, {}, "", "")
    try:
        task.handler = "other"  # type: ignore[misc]
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:
        raise AssertionError("a stored task accepted an assignment")
    assert task.handler == "h"


def test_stored_lease_equals_the_same_lease_built_by_attrs() -> None:
    task = stored_task("h", b"p", uuid.uuid4(), 0, None, "default", 1, 2, 0.0, {}, "", "")
    assert stored_lease(task, "tok:1", 3, 2, 1_700_000_030.0) == DurableLease(task, "tok:1", 3, 2, 1_700_000_030.0)
