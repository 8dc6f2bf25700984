"""GET /admin/v1/events: go-worker's SSE batches from one producer, kept in a bounded ring for Last-Event-ID replay."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from pyworker.adapters.web.gateway.encode import audit_json, overview_json, schedule_event_json
from pyworker.application.admin import AdminService
from pyworker.domain import WorkerError
from pyworker.domain.admin import AdminUnsupportedError

logger = logging.getLogger("pyworker.admin")

#: Events of each kind's list in a batch (go-worker's).
LATEST = 25
SSE_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


@attrs.frozen
class Event:
    id: int
    name: str
    data: dict[str, Any]

    def frame(self) -> str:
        return f"id: {self.id}\nevent: {self.name}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


class EventRing:
    """The last ``size`` events with increasing ids; ``changed`` is set (and replaced) on each append."""

    def __init__(self, size: int) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=size)
        self.last_id = 0
        self.changed = asyncio.Event()

    def extend(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        for name, data in batch:
            self.last_id += 1
            self._events.append(Event(self.last_id, name, data))
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def after(self, event_id: int) -> list[Event]:
        return [e for e in self._events if e.id > event_id]


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class EventFeed:
    """One producer for every connection: a batch (overview, schedule_events, audit_events,
    heartbeat) every ``interval`` seconds while someone listens, or at once when a new
    connection asks for one (``kick``). Every connection reads the same ring, so ids are
    the same for everyone and a replay never repeats another client's events.
    """

    def __init__(self, admin: AdminService, interval: float, ring_size: int, closing: asyncio.Event) -> None:
        self._admin = admin
        self._interval = interval
        self._closing = closing
        self.ring = EventRing(ring_size)
        self._listeners = 0
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def batch(self) -> list[tuple[str, dict[str, Any]]]:
        """One batch; a read that fails puts an ``error`` event in its place."""
        parts: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
            ("overview", lambda: self._overview()),
            ("schedule_events", lambda: self._schedule_events()),
            ("audit_events", lambda: self._audit_events()),
        ]
        batch: list[tuple[str, dict[str, Any]]] = []
        for name, read in parts:
            try:
                batch.append((name, await read()))
            except WorkerError as exc:
                logger.warning("admin gateway events: %s: %s", name, exc)
                batch.append(("error", {"message": str(exc)}))
        batch.append(("heartbeat", {"ts": int(time.time() * 1000)}))
        return batch

    async def _overview(self) -> dict[str, Any]:
        return overview_json(await self._admin.overview())

    async def _schedule_events(self) -> dict[str, Any]:
        try:
            events = await self._admin.schedule_events("", LATEST)
        except AdminUnsupportedError:  # no TaskManager served here: no schedules, so no fires
            events = []
        return {"events": [schedule_event_json(e) for e in events]}

    async def _audit_events(self) -> dict[str, Any]:
        return {"events": [audit_json(e) for e in await self._admin.audit_events(limit=LATEST)]}

    def kick(self) -> None:
        """Produce a batch now (a connection without Last-Event-ID wants fresh figures)."""
        self._kick.set()
        self._ensure_producer()

    def _ensure_producer(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._produce(), name="admin-gateway-events")

    async def _produce(self) -> None:
        while self._listeners and not self._closing.is_set():
            self._kick.clear()
            self.ring.extend(await self.batch())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._kick, self._closing), self._interval)

    async def stream(self, last_event_id: int | None) -> AsyncIterator[str]:
        """One connection's frames: the ring after ``last_event_id`` (a replay, then no connect-time
        batch), else a fresh batch; then every new batch, until the client leaves or the server stops."""
        self._listeners += 1
        try:
            if last_event_id is None or last_event_id > self.ring.last_id:  # nothing to replay (or a lost ring)
                cursor = self.ring.last_id
                self.kick()
            else:
                cursor = last_event_id
                self._ensure_producer()
            while not self._closing.is_set():
                changed = self.ring.changed
                for event in self.ring.after(cursor):
                    yield event.frame()
                    cursor = event.id
                if cursor >= self.ring.last_id:
                    await _first(changed, self._closing)
        finally:
            self._listeners -= 1


def last_event_id(header: str | None, query: str | None) -> int | None:
    """A positive integer from ``Last-Event-ID`` (else ``lastEventId``); anything else is ignored."""
    text = (header if header is not None else query or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None
