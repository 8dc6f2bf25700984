"""The admin page's live updates: an SSE stream of the overview, one event every ``events_interval`` seconds."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from pyworker.adapters.web.data import AdminPageData, Overview
from pyworker.adapters.web.security import config_of
from pyworker.adapters.web.views import data_of, sample_json
from pyworker.application.admin import Sample
from pyworker.application.admin.history import SAMPLE_CAPACITY, SAMPLE_INTERVAL
from pyworker.domain import WorkerError

logger = logging.getLogger("pyworker.admin")

#: Milliseconds a browser waits before it reconnects a dropped stream.
RETRY_MS = 2000


def overview_json(overview: Overview) -> dict[str, Any]:
    """The overview as the page's script reads it (the script sets text, never HTML)."""
    stats = overview.stats
    return {
        "paused": stats.paused,
        "dead": stats.dead,
        "ready": stats.total_ready,
        "delayed": stats.total_delayed,
        "processing": stats.total_processing,
        "queues": [
            {"queue": q.queue, "ready": q.ready, "delayed": q.delayed, "processing": q.processing, "paused": q.paused}
            for q in stats.queues
        ],
        "nodes": [
            {
                "node_id": n.node_id,
                "queues": list(n.queues),
                "running": n.running,
                "concurrency": n.concurrency,
                "version": n.version,
            }
            for n in overview.nodes
        ],
    }


def history_json(data: AdminPageData, samples: list[Sample]) -> dict[str, Any]:
    """The samples, and the span the charts cover (``interval`` seconds times ``capacity``)."""
    sampler = data.history
    interval, capacity = (sampler.interval, sampler.capacity) if sampler else (SAMPLE_INTERVAL, SAMPLE_CAPACITY)
    return {"interval": interval, "capacity": capacity, "samples": [sample_json(s) for s in samples]}


def frame(event_id: int, event: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def events(request: Request) -> Response:
    """``overview`` events, ``history`` events (the last hour's samples, when one was added), and
    an ``error`` event in their place while the store does not answer."""
    data, interval = data_of(request), config_of(request).events_interval
    closing: asyncio.Event = request.app.state.closing

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        event_id = 0
        sent: float | None = -1.0
        while True:
            event_id += 1
            try:
                yield frame(event_id, "overview", overview_json(await data.overview()))
                samples = await data.samples()
                latest = samples[-1].at if samples else None
                if latest != sent:  # the whole hour on connect, then again with each new sample
                    sent = latest
                    event_id += 1
                    yield frame(event_id, "history", history_json(data, samples))
            except WorkerError as exc:
                logger.warning("admin events: %s", exc)
                yield frame(event_id, "error", {"message": str(exc)})
            try:  # the server is stopping: end the stream, so the browser's connection closes at once
                await asyncio.wait_for(closing.wait(), interval)
                return
            except TimeoutError:
                pass

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
