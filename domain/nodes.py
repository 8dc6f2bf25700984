"""A worker node's heartbeat record: who it is, what it serves and how busy it is (docs/cluster.md#nodes)."""

from __future__ import annotations

import attrs

#: How long a node's record lives without a heartbeat; nodes beat every third of it.
DEFAULT_NODE_TTL = 15.0


def _queues(value: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    return tuple(value or ())


@attrs.frozen
class NodeInfo:
    """What one worker node reports on each heartbeat.

    Attributes:
        node_id: unique per process (``host-pid-random`` by default).
        host, pid, version: where it runs and which pyworker it is.
        queues: the queues it leases from (empty: every queue).
        concurrency: its worker count; ``running``: attempts running at the last beat.
        started_at, last_seen: epoch seconds (the node's start, its last beat).
        ttl: seconds the record lives after ``last_seen`` without another beat.
    """

    node_id: str
    host: str = ""
    pid: int = 0
    version: str = ""
    queues: tuple[str, ...] = attrs.field(default=(), converter=_queues)
    concurrency: int = 0
    running: int = 0
    started_at: float = 0.0
    last_seen: float = 0.0
    ttl: float = DEFAULT_NODE_TTL

    @property
    def expires_at(self) -> float:
        """When the record disappears unless the node beats again."""
        return self.last_seen + self.ttl
