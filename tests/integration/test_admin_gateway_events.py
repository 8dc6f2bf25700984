"""GET /admin/v1/events, the gateway's SSE stream, on a real server (docs/admin.md, "Live events"):
the batch at connect, a change showing up, Last-Event-ID replay from the ring, the end at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import attrs
import httpx
import pytest

from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.adapters.web.gateway.sse import EventFeed
from pyworker.application.admin import AdminService
from pyworker.domain import BackendUnavailableError
from tests.support.admin_gateway import Served, served
from tests.support.waits import next_result, within

pytestmark = pytest.mark.redis
BATCH = ["overview", "schedule_events", "audit_events", "heartbeat"]


@attrs.frozen
class Frame:
    id: int
    event: str
    data: dict[str, object]


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if fields:
                yield Frame(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                fields = {}
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


@contextlib.asynccontextmanager
async def stream(s: Served, **headers: str) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[Frame]]]:
    path = headers.pop("path", "/events")
    async with s.http.stream("GET", path, headers=headers) as response:
        yield response, frames(response)


async def take(events: AsyncIterator[Frame], count: int) -> list[Frame]:
    return [await next_result(events) for _ in range(count)]


@pytest.fixture
async def gw() -> AsyncIterator[Served]:
    async with served(events_interval=0.2) as s:
        yield s


async def test_a_batch_at_connect_then_a_change_shows_up(gw: Served) -> None:
    async with stream(gw) as (response, events):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert (response.headers["cache-control"], response.headers["x-accel-buffering"]) == ("no-cache", "no")
        first = await take(events, 4)
        assert [f.event for f in first] == BATCH
        assert [f.id for f in first] == list(range(first[0].id, first[0].id + 4))
        overview = first[0].data
        assert overview["coordination"] == {"globalRateLimit": "disabled", "leaderLock": "disabled", "lease": "n/a",
                                            "paused": False}  # fmt: skip
        assert first[2].data == {"events": []}
        assert isinstance(first[3].data["ts"], int)

        paused = await gw.http.post("/pause", headers={"X-Request-Id": "sse-pause"})
        assert paused.status_code == 200

        async def changed() -> tuple[Frame, Frame]:
            seen: dict[str, Frame] = {}
            async for frame in events:
                if frame.event == "overview" and frame.data["coordination"]["paused"]:  # type: ignore[index]
                    seen["overview"] = frame
                if frame.event == "audit_events" and any(
                    e["requestId"] == "sse-pause" for e in frame.data["events"]  # type: ignore[attr-defined]
                ):
                    seen["audit"] = frame
                if len(seen) == 2:
                    return seen["overview"], seen["audit"]
            raise AssertionError("the stream ended")

        overview_frame, audit_frame = await within(changed())
        assert overview_frame.id > first[-1].id
        assert audit_frame.data["events"][0]["action"] == "dequeue.pause"  # type: ignore[index]


async def test_last_event_id_replays_what_the_client_missed(gw: Served) -> None:
    async with stream(gw) as (_response, events):
        seen = await take(events, 8)  # two batches
    ids = [f.id for f in seen]
    assert ids == list(range(ids[0], ids[0] + 8))

    async with stream(gw, **{"Last-Event-ID": str(ids[1])}) as (_response, events):
        replayed = await take(events, 6)
    assert [(f.id, f.event) for f in replayed] == [(f.id, f.event) for f in seen[2:8]]  # no connect-time batch first

    async with stream(gw, path=f"/events?lastEventId={ids[5]}") as (_response, events):
        assert [f.id for f in await take(events, 2)] == ids[6:8]

    async with stream(gw, **{"Last-Event-ID": "not-a-number"}) as (_response, events):
        fresh = await take(events, 4)  # ignored: a fresh batch, after everything the ring holds
    assert [f.event for f in fresh] == BATCH
    assert fresh[0].id > ids[-1]


async def test_the_stream_ends_when_the_server_stops() -> None:
    async with served(events_interval=30) as s, stream(s) as (_response, events):
        assert [f.event for f in await take(events, 4)] == BATCH
        stopping = asyncio.create_task(asyncio.to_thread(s.server.stop))

        async def drained() -> list[Frame]:
            return [frame async for frame in events]

        assert await within(drained()) == []  # the interval is 30 s: the stream ended, it did not tick
        await within(stopping)


async def test_a_read_that_fails_sends_an_error_event_in_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = InMemoryDurableBackend()
    admin = AdminService(backend, backend.queue_weights(), backend.audit_log())

    async def down() -> None:
        raise BackendUnavailableError(reason="connection refused")

    monkeypatch.setattr(admin, "overview", down)  # one-off fault injection
    batch = await within(EventFeed(admin, 1.0, 10, asyncio.Event()).batch())
    assert [name for name, _ in batch] == ["error", "schedule_events", "audit_events", "heartbeat"]
    assert batch[0][1] == {"message": "durable backend unavailable: connection refused"}
    assert batch[1][1] == {"events": []}  # no TaskManager here: no schedules, so no fires
