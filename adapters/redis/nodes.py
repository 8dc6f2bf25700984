"""RedisNodeRegistry: the NodeRegistry port on Redis (standalone or Cluster; docs/cluster.md#nodes)."""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.redis.client import RedisClient
from pyworker.adapters.redis.keys import RedisKeys
from pyworker.adapters.redis.store import TECHNOLOGY_ERRORS, unavailable
from pyworker.application.ports import Clock
from pyworker.domain import NodeInfo
from pyworker.domain.duration import to_ms

T = TypeVar("T")

#: Index entries read per ZSCAN call while listing.
SCAN_COUNT = 200


def _script(name: str) -> str:
    return (importlib.resources.files("pyworker.adapters.redis") / "lua" / f"{name}.lua").read_text()


def node_fields(node: NodeInfo) -> list[Any]:
    """A NodeInfo as the hash's field, value pairs (times in ms)."""
    return [
        "node_id", node.node_id,
        "host", node.host,
        "pid", node.pid,
        "version", node.version,
        "queues", json.dumps(list(node.queues)),
        "concurrency", node.concurrency,
        "running", node.running,
        "started_at", to_ms(node.started_at),
        "last_seen", to_ms(node.last_seen),
        "ttl", to_ms(node.ttl),
    ]  # fmt: skip


def node_from_hash(raw: dict[bytes, bytes]) -> NodeInfo:
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    return NodeInfo(
        node_id=fields["node_id"],
        host=fields.get("host", ""),
        pid=int(fields.get("pid", 0)),
        version=fields.get("version", ""),
        queues=tuple(json.loads(fields.get("queues", "[]"))),
        concurrency=int(fields.get("concurrency", 0)),
        running=int(fields.get("running", 0)),
        started_at=int(fields.get("started_at", 0)) / 1000,
        last_seen=int(fields.get("last_seen", 0)) / 1000,
        ttl=int(fields.get("ttl", 0)) / 1000,
    )


class RedisNodeRegistry:
    """One hash per node (``P:node:<id>``, expiring on its own with PEXPIRE) and an index
    (``P:nodes``, score = expiry in ms on the Clock) that listing pages through with
    ZSCAN. A node is listed while its record exists and its index entry has not
    expired; entries past their expiry or without a record are pruned. Every key
    carries the prefix's hash tag, so it works on Redis Cluster. The client is the
    caller's (not closed here); it must not decode responses.
    """

    def __init__(self, client: RedisClient, prefix: str = "pyworker", clock: Clock | None = None) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._beat = client.register_script(_script("node_beat"))
        self._remove = client.register_script(_script("node_remove"))

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except TECHNOLOGY_ERRORS as exc:
            raise unavailable(exc) from exc

    async def heartbeat(self, node: NodeInfo) -> None:
        ttl = max(1, to_ms(node.ttl))
        args = [node.node_id, ttl, to_ms(node.last_seen) + ttl, to_ms(self.clock.now()), *node_fields(node)]
        await self._guard(self._beat(keys=[self.keys.node(node.node_id), self.keys.nodes], args=args))

    async def list_nodes(self) -> list[NodeInfo]:
        now = to_ms(self.clock.now())
        live: set[str] = set()
        expired: set[str] = set()
        cursor = 0
        while True:  # ZSCAN returns every entry present for the whole walk at least once
            reply: Any = await self._guard(self.client.zscan(self.keys.nodes, cursor, count=SCAN_COUNT))
            cursor, entries = reply
            for member, score in entries:
                (live if float(score) > now else expired).add(member.decode())
            if cursor == 0:
                break
        nodes: list[NodeInfo] = []
        ids = sorted(live)
        for start in range(0, len(ids), SCAN_COUNT):
            chunk = ids[start : start + SCAN_COUNT]
            async with self.client.pipeline(transaction=False) as pipe:
                for node_id in chunk:
                    pipe.hgetall(self.keys.node(node_id))
                replies = await self._guard(pipe.execute())
            for node_id, raw in zip(chunk, replies, strict=True):
                if raw:
                    nodes.append(node_from_hash(raw))
                else:  # the record expired before its index entry (another clock, or PEXPIRE first)
                    expired.add(node_id)
        if expired:
            await self._forget(sorted(expired), now)
        return nodes

    async def remove(self, node_id: str) -> None:
        await self._forget([node_id], None)

    async def _forget(self, node_ids: list[str], now: int | None) -> None:
        """Remove ``node_ids`` (with ``now``: only those still dead when the script runs)."""
        when = "" if now is None else now
        for start in range(0, len(node_ids), SCAN_COUNT):
            chunk = node_ids[start : start + SCAN_COUNT]
            await self._guard(self._remove(keys=[self.keys.nodes], args=[self.keys.prefix, when, *chunk]))
