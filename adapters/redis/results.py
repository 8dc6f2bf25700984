"""RedisDurableResults: the DurableResults port on Redis (outcome records and the results stream)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from pyworker.adapters.redis.store import TECHNOLOGY_ERRORS, RedisDurableStore, unavailable
from pyworker.adapters.redis.wake import OwnConnection
from pyworker.domain import DurableOutcome
from pyworker.domain.duration import to_ms
from pyworker.domain.settled import (
    outcome_status,
)

#: The largest sequence part of a stream id.
_MAX_SEQ = 2**64 - 1
#: Extra real time allowed for an XREAD BLOCK reply before the connection is presumed dead.
_REPLY_GRACE = 5.0


def outcome_from_json(raw: bytes | str, task_id: uuid.UUID | None = None) -> DurableOutcome:
    """An outcome from the JSON that lua/outcome.lua writes."""
    fields: dict[str, Any] = json.loads(raw)
    return DurableOutcome(
        id=task_id if task_id is not None else uuid.UUID(str(fields["id"])),
        status=outcome_status(str(fields.get("status", ""))),
        output=str(fields.get("output", "")),
        error=str(fields.get("error", "")),
        attempts=int(fields.get("attempts", 0)),
        node=str(fields.get("node", "")),
        handler=str(fields.get("handler", "")),
        finished_at=int(fields.get("finished_at_ms", 0)) / 1000,
    )


class RedisDurableResults:
    """Reads what the ack and fail scripts record (lua/outcome.lua): ``P:result:<id>``
    with GET on the shared client, and ``P:results`` with XREAD BLOCK on a connection of
    its own (``dedicated_client``), so a reader waiting for outcomes never delays a
    dequeue or an ack. Cursors are stream ids (``ms-seq``, the server's clock), so a cursor
    for a time on this node's clock reaches back ``skew`` seconds (docs/cluster.md#results).
    """

    def __init__(self, store: RedisDurableStore, skew: float = 1.0) -> None:
        self.store = store
        self.skew = max(skew, 0.0)
        self._conn = OwnConnection(store.client, store.keys.results)

    async def get_result(self, task_id: uuid.UUID) -> DurableOutcome | None:
        store = self.store
        raw: Any = await store.guard(store.client.get(store.keys.result(task_id)))
        return None if raw is None else outcome_from_json(raw, task_id)

    def results_cursor(self, at: float) -> str:
        """``at`` less ``skew``: stream ids are the Redis server's clock, not this node's."""
        return f"{max(to_ms(at - self.skew) - 1, 0)}-{_MAX_SEQ}"

    async def read_results(
        self, cursor: str | None, max_wait: float, count: int
    ) -> tuple[str, list[DurableOutcome]]:
        """XREAD COUNT ``count`` BLOCK ``max_wait`` after ``cursor`` (None: the stream's
        last entry now). A cancelled read drops the connection (it cannot be reused).
        """
        key = self.store.keys.results
        try:
            conn = await self._conn.get()
            if cursor is None:
                last: Any = await conn.xrevrange(key, count=1)
                cursor = last[0][0].decode() if last else "0-0"
            block = max(to_ms(max_wait), 1) if max_wait > 0 else None
            async with asyncio.timeout(max(max_wait, 0.0) + _REPLY_GRACE):
                reply: Any = await conn.xread({key: cursor}, count=max(count, 1), block=block)
        except asyncio.CancelledError:
            await self._conn.drop()
            raise
        except TECHNOLOGY_ERRORS as exc:
            await self._conn.drop()
            raise unavailable(exc) from exc
        outcomes: list[DurableOutcome] = []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                raw = fields.get(b"r")
                if raw is not None:
                    outcomes.append(outcome_from_json(raw))
        return cursor, outcomes

    async def close(self) -> None:
        """Drop the reading connection (a later read opens another: several managers may
        share one backend, and each closes its reader when it stops).
        """
        await self._conn.drop()
