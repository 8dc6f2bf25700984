"""Helpers shared by the durable contract suites (and the Redis Cluster run of them)."""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from pyworker.application.ports import DurableInspector, DurableQueue
from pyworker.domain import MAX_PAGE_SIZE, DurableLease, DurableState, DurableTask, DurableTaskRecord

#: A bound on real time for waits that must end long before it (no test sleeps).
PROMPTLY = 10.0


@attrs.frozen
class ContractTask(DurableTask):
    """A DurableTask whose id is always set, and typed so (``make_task(id=None)`` still
    builds one without, for the tests that need an invalid task).
    """

    id: uuid.UUID = attrs.field(factory=uuid.uuid4)


def make_task(**fields: Any) -> ContractTask:
    fields.setdefault("handler", "send_email")
    fields.setdefault("payload", b"payload")
    return ContractTask(**fields)


async def dequeue_all(queue: DurableQueue, lease: float = 30.0) -> list[DurableLease]:
    return await queue.dequeue(1000, lease)


async def list_all(
    inspector: DurableInspector, state: DurableState, queue: str | None = None, page_size: int = MAX_PAGE_SIZE
) -> list[DurableTaskRecord]:
    """Every record in ``state``, page after page."""
    records: list[DurableTaskRecord] = []
    cursor: str | None = None
    while True:
        page = await inspector.list_tasks(state, queue, limit=page_size, cursor=cursor)
        records.extend(page.records)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor
