"""RedisScheduleStore: the ScheduleStore port on Redis; one script per fire, shared by every node.

Keys (``P`` the effective prefix, docs/cluster.md#schedules):

    P:schedule:<name>           hash    watermark_ms (latest tick handled), last_task (its task id)
    P:schedule:<name>:history   list    JSON fire records, newest first, trimmed to the history size
    P:schedules:paused          string  "1" while every schedule is paused
    P:schedules:paused:names    set     schedules paused one by one
"""

from __future__ import annotations

import importlib.resources
import json
import uuid
from typing import Any

from pyworker.adapters.redis.records import encode_task
from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.domain import DurableTask
from pyworker.domain.duration import to_ms
from pyworker.domain.schedule import FireOutcome, FireRecord


def fire_script_source() -> str:
    """prelude.lua, enqueue.lua as the function ``enqueue_tasks()``, then schedule_fire.lua:
    the fire stores its task by the very code ``enqueue`` runs."""
    lua = importlib.resources.files("pyworker.adapters.redis") / "lua"
    prelude, enqueue, fire = ((lua / f"{name}.lua").read_text() for name in ("prelude", "enqueue", "schedule_fire"))
    return f"{prelude}\nlocal function enqueue_tasks()\n{enqueue}\nend\n{fire}"


def _entry(record: FireRecord) -> str:
    return json.dumps(
        {
            "name": record.name,
            "outcome": record.outcome.value,
            "tick_ms": None if record.tick is None else to_ms(record.tick),
            "at_ms": to_ms(record.at),
            "task_id": None if record.task_id is None else str(record.task_id),
        },
        separators=(",", ":"),
    )


def _record(raw: bytes | str) -> FireRecord:
    data = json.loads(raw)
    return FireRecord(
        name=data["name"],
        outcome=FireOutcome(data["outcome"]),
        tick=None if data["tick_ms"] is None else data["tick_ms"] / 1000,
        at=data["at_ms"] / 1000,
        task_id=None if data["task_id"] is None else uuid.UUID(data["task_id"]),
    )


class RedisScheduleStore:
    """Durable schedules on the durable backend's Redis store (same client, prefix, clock).

    ``fire`` is one Lua script: the watermark check and move, the pause and
    still-running checks, the enqueue (enqueue.lua itself) and the history push
    happen together or not at all, so any number of nodes firing the same tick
    create one task. Pause state and history live in Redis, shared by every node.
    """

    def __init__(self, store: RedisDurableStore) -> None:
        self.store = store
        self._fire = store.client.register_script(fire_script_source())
        prefix = store.prefix
        self._paused_key = f"{prefix}:schedules:paused"
        self._paused_names_key = f"{prefix}:schedules:paused:names"

    def _key(self, name: str) -> str:
        return f"{self.store.prefix}:schedule:{name}"

    async def fire(
        self, name: str, tick: float | None, task: DurableTask, *, skip_if_running: bool, history: int
    ) -> FireRecord:
        store = self.store
        now_ms = store.now_ms()
        now = now_ms / 1000
        task_id, blob, _ = encode_task(task, store.default_queue, now_ms)
        fired = FireRecord(name, FireOutcome.FIRED, tick, now, task_id)
        skipped = FireRecord(name, FireOutcome.SKIPPED_RUNNING, tick, now)
        keys = [store.keys.queues, store.keys.seq, store.keys.wake,
                self._key(name), self._key(name) + ":history", self._paused_key, self._paused_names_key]  # fmt: skip
        args: list[Any] = [
            store.prefix, now_ms, 1, blob,
            name, "" if tick is None else to_ms(tick), "1" if skip_if_running else "0", max(history, 1),
            str(task_id), _entry(fired), _entry(skipped),
        ]  # fmt: skip
        outcome = FireOutcome((await store.run(self._fire, keys, args)).decode())
        if outcome is FireOutcome.FIRED:
            return fired
        if outcome is FireOutcome.SKIPPED_RUNNING:
            return skipped
        return FireRecord(name, outcome, tick, now)

    async def last_tick(self, name: str) -> float | None:
        raw = await self.store.guard(self.store.client.hget(self._key(name), "watermark_ms"))
        return None if raw is None else int(raw) / 1000

    async def set_paused(self, name: str | None, paused: bool) -> None:
        client = self.store.client
        if name is None:
            call = client.set(self._paused_key, "1") if paused else client.delete(self._paused_key)
        else:
            call = client.sadd(self._paused_names_key, name) if paused else client.srem(self._paused_names_key, name)
        await self.store.guard(call)

    async def paused(self) -> tuple[bool, frozenset[str]]:
        client = self.store.client
        flag = await self.store.guard(client.exists(self._paused_key))
        names = await self.store.guard(client.smembers(self._paused_names_key))
        return bool(flag), frozenset(n.decode() if isinstance(n, bytes) else n for n in names)

    async def history(self, name: str, limit: int) -> list[FireRecord]:
        if limit < 1:
            return []
        raw = await self.store.guard(self.store.client.lrange(self._key(name) + ":history", 0, limit - 1))
        return [_record(item) for item in raw]
