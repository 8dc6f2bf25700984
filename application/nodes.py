"""The node heartbeat: a durable worker node announces itself in the NodeRegistry (docs/cluster.md#nodes)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import os
import platform
import secrets
from collections.abc import Callable, Sequence

import attrs

from pyworker.application.durable.reconnect import Reconnect
from pyworker.application.ports import Clock, NodeRegistry
from pyworker.domain import NodeInfo

logger = logging.getLogger("pyworker.durable")


def new_node_id() -> str:
    """``host-pid-random``: readable, and unique even when a pid is reused."""
    return f"{platform.node() or 'host'}-{os.getpid()}-{secrets.token_hex(3)}"


def package_version() -> str:
    """The installed pyworker's version ("" when it runs from a tree that is not installed)."""
    try:
        return importlib.metadata.version("pyworker")
    except importlib.metadata.PackageNotFoundError:
        return ""


def this_node(node_id: str | None, queues: Sequence[str] | None, concurrency: int, ttl: float) -> NodeInfo:
    """This process as a NodeInfo (``started_at`` and ``last_seen`` are set when it beats)."""
    return NodeInfo(
        node_id=node_id or new_node_id(),
        host=platform.node(),
        pid=os.getpid(),
        version=package_version(),
        queues=tuple(queues or ()),
        concurrency=concurrency,
        ttl=ttl,
    )


class NodeHeartbeat:
    """Beats every ``ttl / 3`` seconds with the live ``running()`` count, so a record
    survives two lost beats; ``stop()`` ends the loop and removes the record. A
    failed beat is logged once per outage and retried at the next period (the
    record expires meanwhile if the store stays away longer than the TTL).
    """

    def __init__(
        self,
        registry: NodeRegistry,
        clock: Clock,
        node: NodeInfo,
        running: Callable[[], int],
        concurrency: Callable[[], int] | None = None,
    ) -> None:
        self.registry = registry
        self.node = node
        self.period = node.ttl / 3
        self._clock = clock
        self._running = running
        self._concurrency = concurrency
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False

    async def start(self) -> None:
        """Send the first beat (so the node is listed once ``start`` returns), then beat
        in the background. Idempotent; a no-op after stop. A failed first beat is
        logged and retried at the next period, as any other.
        """
        if self._started or self._stopped:
            return
        self._started = True
        self.node = attrs.evolve(self.node, started_at=self._clock.now())
        reconnect = Reconnect("node heartbeat", self.period, self.period)
        await self._beat_once(reconnect)
        if self.stopped:  # stopped while the first beat was on its way: take it back
            await self._deregister()
            return
        self._task = asyncio.get_running_loop().create_task(self._run(reconnect), name="pyworker-node-heartbeat")

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def beat(self) -> NodeInfo:
        """Send one heartbeat now; returns what was sent."""
        concurrency = self._concurrency() if self._concurrency is not None else self.node.concurrency
        node = attrs.evolve(self.node, running=self._running(), concurrency=concurrency, last_seen=self._clock.now())
        await self.registry.heartbeat(node)
        return node

    async def _beat_once(self, reconnect: Reconnect) -> None:
        try:
            await self.beat()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lost beat: logged once per outage, retried next period
            reconnect.failed(exc)
        else:
            reconnect.succeeded()

    async def _run(self, reconnect: Reconnect) -> None:
        while True:
            await self._clock.sleep(self.period)
            await self._beat_once(reconnect)

    async def stop(self) -> None:
        """Stop beating and remove this node's record. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._started:
            await self._deregister()

    async def _deregister(self) -> None:
        try:
            await self.registry.remove(self.node.node_id)
        except Exception as exc:  # the record expires within its TTL anyway
            logger.warning("durable node %s: could not deregister: %s", self.node.node_id, exc)
