"""The node heartbeat of a durable TaskManager (docs/cluster.md#nodes), driven by the manual clock."""

from __future__ import annotations

import asyncio
import os
import uuid

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend, InMemoryNodeRegistry
from pyworker.application.config import DurableConfig
from pyworker.application.nodes import NodeHeartbeat, this_node
from pyworker.domain import DEFAULT_NODE_TTL, BackendUnavailableError, DurableTask, NodeInfo
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import settle, until, within
from tests.unit.durable.durable_support import MakeDurable, Probe, registry_for


class RecordingRegistry(InMemoryNodeRegistry):
    """An in-memory registry that keeps every beat and removal; ``fail`` beats raise first."""

    def __init__(self, clock: ManualClock, fail: int = 0) -> None:
        super().__init__(clock)
        self.beats: list[NodeInfo] = []
        self.removed: list[str] = []
        self.fail = fail

    async def heartbeat(self, node: NodeInfo) -> None:
        if self.fail:
            self.fail -= 1
            raise BackendUnavailableError(reason="store away")
        self.beats.append(node)
        await super().heartbeat(node)

    async def remove(self, node_id: str) -> None:
        self.removed.append(node_id)
        await super().remove(node_id)


def test_the_default_ttl_is_fifteen_seconds() -> None:
    assert DurableConfig().node_ttl == DEFAULT_NODE_TTL == 15.0
    assert DurableConfig(node_ttl=-1).node_ttl == 0.0


async def test_a_node_beats_at_start_then_every_third_of_its_ttl_with_the_running_count(
    make_durable: MakeDurable, clock: ManualClock
) -> None:
    registry = RecordingRegistry(clock)
    probe = Probe(block=True)
    tm = make_durable(
        durable_handlers=registry_for(probe),
        node_registry=registry,
        durable_config=DurableConfig(node_ttl=9, node_id="node-a", queues=["emails"]),
        max_workers=2,
    )
    started = clock.now()
    await tm.start()
    assert len(registry.beats) == 1  # listed once start() returns
    first = registry.beats[0]
    assert first == NodeInfo(
        node_id="node-a", host=first.host, pid=os.getpid(), version=first.version, queues=("emails",),
        concurrency=2, running=0, started_at=started, last_seen=started, ttl=9.0,
    )  # fmt: skip
    assert first.host
    assert first.version
    await tm.register_durable_task(DurableTask(handler="send_email", message=SendEmailPayload(to="x"),
                                               id=uuid.uuid4(), queue="emails"))  # fmt: skip
    await within(probe.started.wait())
    clock.advance(2.9)
    await settle()
    assert len(registry.beats) == 1  # not before ttl / 3
    clock.advance(0.1)
    await until(lambda: len(registry.beats) == 2)
    assert (registry.beats[1].running, registry.beats[1].last_seen) == (1, started + 3)
    assert registry.beats[1].started_at == started
    probe.release_all()
    await within(tm.wait())
    clock.advance(3)
    await until(lambda: len(registry.beats) == 3)
    assert (registry.beats[2].running, registry.beats[2].last_seen) == (0, started + 6)
    assert [n.node_id for n in await registry.list_nodes()] == ["node-a"]


async def test_a_node_that_stops_beating_disappears_after_its_ttl(clock: ManualClock) -> None:
    registry = InMemoryNodeRegistry(clock)
    await registry.heartbeat(NodeInfo("dead", last_seen=clock.now(), ttl=9))
    clock.advance(8.9)
    assert [n.node_id for n in await registry.list_nodes()] == ["dead"]
    clock.advance(0.1)
    assert await registry.list_nodes() == []


async def test_a_graceful_stop_deregisters_the_node(make_durable: MakeDurable, clock: ManualClock) -> None:
    registry = RecordingRegistry(clock)
    tm = make_durable(durable_handlers=registry_for(Probe()), node_registry=registry,
                      durable_config=DurableConfig(node_id="node-b"))  # fmt: skip
    await tm.start()
    await until(lambda: len(registry.beats) == 1)
    assert [n.node_id for n in await registry.list_nodes()] == ["node-b"]
    await within(tm.stop_graceful())
    assert registry.removed == ["node-b"]
    assert await registry.list_nodes() == []
    clock.advance(DEFAULT_NODE_TTL)
    await settle()
    assert len(registry.beats) == 1  # the loop is gone: nothing beats after the stop


async def test_a_failed_beat_is_retried_at_the_next_period(make_durable: MakeDurable, clock: ManualClock) -> None:
    registry = RecordingRegistry(clock, fail=1)
    tm = make_durable(durable_handlers=registry_for(Probe()), node_registry=registry,
                      durable_config=DurableConfig(node_ttl=3))  # fmt: skip
    await tm.start()
    await settle()
    assert registry.beats == []
    assert registry.fail == 0
    clock.advance(1)
    await until(lambda: len(registry.beats) == 1)
    assert len(await registry.list_nodes()) == 1


async def test_node_ttl_zero_sends_no_heartbeat(make_durable: MakeDurable, clock: ManualClock) -> None:
    registry = RecordingRegistry(clock)
    tm = make_durable(durable_handlers=registry_for(Probe()), node_registry=registry,
                      durable_config=DurableConfig(node_ttl=0))  # fmt: skip
    await tm.start()
    clock.advance(60)
    await settle()
    await within(tm.stop_graceful())
    assert registry.beats == []
    assert registry.removed == []


class SlowRegistry(InMemoryNodeRegistry):
    """Each heartbeat waits for ``gate``: a beat still on its way when the node stops."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.gate = asyncio.Event()
        self.beating = asyncio.Event()

    async def heartbeat(self, node: NodeInfo) -> None:
        self.beating.set()
        await self.gate.wait()
        await super().heartbeat(node)


async def test_a_stop_during_the_first_beat_leaves_no_record(clock: ManualClock) -> None:
    registry = SlowRegistry(clock)
    heartbeat = NodeHeartbeat(registry, clock, this_node("n1", None, 1, 9.0), lambda: 0)
    starting = asyncio.create_task(heartbeat.start())
    await within(registry.beating.wait())
    await within(heartbeat.stop())  # the beat has not landed yet
    registry.gate.set()
    await within(starting)
    assert await registry.list_nodes() == []


async def test_a_durable_manager_beats_in_its_backends_registry_by_default(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()), max_workers=3)
    await tm.start()
    [node] = await backend.node_registry().list_nodes()
    assert (node.pid, node.concurrency, node.ttl) == (os.getpid(), 3, DEFAULT_NODE_TTL)
    await within(tm.stop_graceful())
    assert await backend.node_registry().list_nodes() == []
