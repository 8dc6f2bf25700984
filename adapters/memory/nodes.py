"""InMemoryNodeRegistry: the NodeRegistry port in one process (tests, the embedded backend)."""

from __future__ import annotations

from pyworker.adapters.clock import SystemClock
from pyworker.application.ports import Clock
from pyworker.domain import NodeInfo


class InMemoryNodeRegistry:
    """Nodes by id; a node is live until ``last_seen + ttl`` on the clock (checked on
    every read, expired ones pruned), as the Redis registry's index is.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._nodes: dict[str, NodeInfo] = {}

    async def heartbeat(self, node: NodeInfo) -> None:
        self._nodes[node.node_id] = node

    async def list_nodes(self) -> list[NodeInfo]:
        now = self._clock.now()
        for node_id in [n.node_id for n in self._nodes.values() if n.expires_at <= now]:
            del self._nodes[node_id]
        return sorted(self._nodes.values(), key=lambda n: n.node_id)

    async def remove(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)
