"""RedisDurableInspector: the DurableInspector port (what an operator needs) on Redis."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pyworker.adapters.redis.keys import RedisKeys
from pyworker.adapters.redis.records import LISTED_FIELDS, hash_fields, record_from_hash, record_from_row
from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.domain.durable import (
    DEFAULT_PAGE_SIZE,
    DurableState,
    DurableStats,
    DurableTaskPage,
    DurableTaskRecord,
    QueueStats,
    cursor_at,
    listable_state,
    page_window,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import TaskNotFoundError

#: DLQ entries one queue-filtered listing call examines at most (a bound on the script's
#: run time); a page may come back short, with a cursor, when it ran out.
DLQ_SCAN_BUDGET = 5000
#: Moves sent in one pipeline (each its own script call: atomic per task, not per chunk).
MOVE_CHUNK = 500


class RedisDurableInspector:
    """The DurableInspector port on a ``RedisDurableStore``: reads, pause and resume.

    Reads are read-only scripts (``stats``, ``list``) or one HGETALL (``get``), so a
    page is one consistent snapshot. Pause and resume are one script each and wake
    idle workers on resume. Each move is one script call per task, sent
    ``MOVE_CHUNK`` to a pipeline.
    """

    def __init__(self, store: RedisDurableStore) -> None:
        self.store = store

    @property
    def keys(self) -> RedisKeys:
        return self.store.keys

    async def stats(self) -> DurableStats:
        store = self.store
        keys = [store.keys.queues, store.keys.paused, store.keys.paused_queues, store.keys.dead]
        reply = await store.run(store.scripts.stats, keys, [store.prefix, store.default_queue])
        queues = tuple(
            QueueStats(reply[i].decode(), int(reply[i + 1]), int(reply[i + 2]), int(reply[i + 3]), bool(reply[i + 4]))
            for i in range(2, len(reply), 5)
        )
        return DurableStats(queues=queues, dead=int(reply[1]), paused=bool(reply[0]))

    async def get(self, task_id: uuid.UUID) -> DurableTaskRecord:
        reply: Any = await self.store.guard(self.store.client.hgetall(self.store.keys.task(task_id)))
        fields: dict[bytes, bytes] = reply
        if not fields:
            raise TaskNotFoundError(task_id=task_id)
        return record_from_hash(task_id, fields)

    async def list_tasks(
        self,
        state: DurableState,
        queue: str | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        payloads: bool = True,
    ) -> DurableTaskPage:
        wanted = listable_state(state)
        start, size = page_window(limit, cursor)
        store = self.store
        args = [store.prefix, wanted.value, store.queue_arg(queue), start, size, DLQ_SCAN_BUDGET, int(payloads)]
        if not payloads:
            args += LISTED_FIELDS
        reply = await store.run(store.scripts.list, [store.keys.queues, store.keys.dead], args)
        follows = int(reply[0])
        records = tuple(record_from_row(row) for row in reply[1:])
        return DurableTaskPage(records, cursor_at(follows if follows >= 0 else None))

    async def pause(self, queue: str | None = None) -> None:
        await self._pause("pause", queue)

    async def resume(self, queue: str | None = None) -> None:
        await self._pause("resume", queue)

    async def _pause(self, action: str, queue: str | None) -> None:
        store = self.store
        keys = [store.keys.paused, store.keys.paused_queues, store.keys.wake]
        await store.run(store.scripts.pause, keys, [store.prefix, action, store.queue_arg(queue)])

    async def requeue(self, task_ids: Sequence[uuid.UUID], queue: str | None = None, delay: float = 0.0) -> int:
        store = self.store
        keys = [store.keys.queues, store.keys.dead, store.keys.seq, store.keys.wake]
        now = store.now_ms()
        ready_at = now + max(to_ms(delay), 0)
        target = store.queue_arg(queue)
        return await self._moves(store.scripts.requeue, keys, [[store.prefix, now, ready_at, target, str(task_id)]
                                                               for task_id in task_ids])

    async def delete(self, task_ids: Sequence[uuid.UUID], *, delete_hash: bool = False) -> int:
        store = self.store
        now, flag = store.now_ms(), "1" if delete_hash else "0"
        calls = [[store.prefix, now, flag, str(task_id)] for task_id in task_ids]
        return await self._moves(store.scripts.delete, [store.keys.queues, store.keys.dead], calls)

    async def replay_dead(self, limit: int) -> int:
        store = self.store
        keys = [store.keys.queues, store.keys.dead, store.keys.seq, store.keys.wake]
        replayed, left = 0, max(limit, 0)
        while left > 0:
            chunk = min(left, MOVE_CHUNK)
            replies = await store.run_many(store.scripts.replay, keys, [[store.prefix, store.now_ms()]] * chunk)
            replayed += sum(1 for reply in replies if int(reply) == 1)
            left -= sum(1 for reply in replies if int(reply) == 1)
            if any(int(reply) == 0 for reply in replies):
                break
        return replayed

    async def restore(self, records: Sequence[DurableTaskRecord]) -> int:
        store = self.store
        keys = [store.keys.queues, store.keys.dead, store.keys.seq, store.keys.wake]
        now = store.now_ms()
        calls = [[store.prefix, now, str(r.id), r.state.value, *hash_fields(r, store.default_queue)] for r in records]
        return await self._moves(store.scripts.restore, keys, calls)

    async def _moves(self, script: Any, keys: list[str], calls: list[list[Any]]) -> int:
        moved = 0
        for start in range(0, len(calls), MOVE_CHUNK):
            replies = await self.store.run_many(script, keys, calls[start : start + MOVE_CHUNK])
            moved += sum(int(reply) for reply in replies)
        return moved
