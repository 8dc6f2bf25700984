"""The admin history on Redis: one sample per bucket in the ``P:admin:history`` sorted set."""

from __future__ import annotations

import json
from typing import Any

from pyworker.adapters.redis.admin import _script
from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.application.admin.history import Sample
from pyworker.domain.duration import to_ms

_FIELDS = ("ready", "delayed", "processing", "dead", "completed", "failed")


def sample_from_json(raw: bytes | str) -> Sample | None:
    """A sample from its JSON; None for an entry that is not one (skipped)."""
    try:
        doc = json.loads(raw)
        return Sample(float(doc["at"]), *(int(doc.get(name, 0)) for name in _FIELDS))
    except (ValueError, KeyError, TypeError):
        return None


class RedisAdminHistory:
    """HistoryStore on ``P:admin:history`` (score: the bucket's start in seconds). lua/history.lua
    adds a sample only to an empty bucket, counting the bucket's outcomes on ``P:results`` by
    stream id, and trims to the capacity, in one step: two admin processes sampling the same
    bucket store one sample. Without results (``--result-ttl 0``) the counts are 0."""

    def __init__(self, store: RedisDurableStore) -> None:
        self.store = store
        self._script = store.client.register_script(_script("history"))

    async def add(self, sample: Sample, interval: float, capacity: int) -> bool:
        keys = self.store.keys
        depths = {"at": sample.at, "ready": sample.ready, "delayed": sample.delayed,
                  "processing": sample.processing, "dead": sample.dead}  # fmt: skip
        start = to_ms(sample.at)
        args = [repr(sample.at), start, start + to_ms(interval) - 1, json.dumps(depths)[:-1], max(int(capacity), 1)]
        return int(await self.store.run(self._script, [keys.admin_history, keys.results], args)) == 1

    async def samples(self, since: float) -> list[Sample]:
        raw: Any = await self.store.guard(self.store.client.zrangebyscore(self.store.keys.admin_history, since, "+inf"))
        return [s for s in (sample_from_json(r) for r in raw) if s is not None]
