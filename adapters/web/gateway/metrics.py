"""GET /admin/v1/metrics: the gateway's HTTP counters and the store's figures, as JSON or Prometheus text.

The Prometheus text is written by prometheus_client (a collector over one snapshot, on a
registry of its own: nothing global), so names, escaping and HELP/TYPE lines are its.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pyworker.application.admin import AdminService, Overview
from pyworker.domain import NodeInfo
from pyworker.domain.admin import QueueSummary

#: The text format generate_latest writes.
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROMETHEUS_FORMATS = ("prom", "prometheus", "text")


def _rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


@attrs.define
class Stat:
    """One route's calls (go-worker's Stat): errors are statuses >= 400; times in milliseconds."""

    calls: int = 0
    errors: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    last_code: str = ""
    last_updated: float = 0.0

    def json(self) -> dict[str, Any]:
        return {"calls": self.calls, "errors": self.errors, "totalMs": round(self.total_ms, 3),
                "maxMs": round(self.max_ms, 3), "avgMs": round(self.total_ms / self.calls, 3) if self.calls else 0,
                "lastCode": self.last_code, "lastUpdated": _rfc3339(self.last_updated)}  # fmt: skip


class HttpStats:
    """Per ``"<METHOD> <route template>"`` (one series per route, not per queue name)."""

    def __init__(self) -> None:
        self.started = time.time()
        self.routes: dict[str, Stat] = {}

    def observe(self, key: str, status: int, elapsed_ms: float) -> None:
        stat = self.routes.setdefault(key, Stat())
        stat.calls += 1
        stat.errors += status >= 400
        stat.total_ms += elapsed_ms
        stat.max_ms = max(stat.max_ms, elapsed_ms)
        stat.last_code = str(status)
        stat.last_updated = time.time()


@attrs.frozen
class Snapshot:
    """What one scrape shows: read from the store once, then written in either format."""

    uptime: float
    started: float
    routes: dict[str, Stat]
    overview: Overview
    queues: list[QueueSummary]
    dead: int
    nodes: list[NodeInfo] | None


async def snapshot(admin: AdminService, stats: HttpStats) -> Snapshot:
    overview = await admin.overview()
    queues = await admin.list_queues()
    dead = (await admin.list_dlq(limit=1)).total
    nodes = await admin.live_nodes()
    routes = {key: attrs.evolve(stat) for key, stat in sorted(stats.routes.items())}
    return Snapshot(time.time() - stats.started, stats.started, routes, overview, queues, dead, nodes)


def metrics_json(s: Snapshot) -> dict[str, Any]:
    """go-worker's ``{startedAt, uptimeSec, http, grpc, jobs}`` plus the store's figures."""
    return {
        "startedAt": _rfc3339(s.started),
        "uptimeSec": int(s.uptime),
        "http": {key: stat.json() for key, stat in s.routes.items()},
        "grpc": {},
        "jobs": {"running": 0, "completed": 0, "failed": 0, "totalMs": 0, "maxMs": 0, "avgMs": 0, "lastCode": "",
                 "lastUpdated": ""},
        "queues": [{"name": q.name, "ready": q.ready, "delayed": q.delayed, "processing": q.processing,
                    "paused": q.paused} for q in s.queues],
        "dlq": s.dead,
        "paused": s.overview.paused,
        "nodes": -1 if s.nodes is None else len(s.nodes),
        "actions": {"pause": s.overview.pauses, "resume": s.overview.resumes, "replay": s.overview.replays},
    }  # fmt: skip


class _SnapshotCollector(Collector):
    def __init__(self, s: Snapshot) -> None:
        self._s = s

    def collect(self) -> Iterator[Metric]:
        s = self._s
        yield GaugeMetricFamily("worker_admin_uptime_seconds", "Seconds since the admin gateway started.", s.uptime)
        by_state = {
            "ready": "Tasks ready to run, per queue.",
            "delayed": "Tasks waiting for their time, per queue.",
            "processing": "Tasks leased by a worker, per queue.",
        }
        for state, text in by_state.items():
            family = GaugeMetricFamily(f"worker_admin_queue_{state}", text, labels=["queue"])
            for q in s.queues:
                family.add_metric([q.name], getattr(q, state))
            yield family
        paused = GaugeMetricFamily("worker_admin_queue_paused", "1 while dequeue from the queue is paused.",
                                   labels=["queue"])  # fmt: skip
        for q in s.queues:
            paused.add_metric([q.name], 1 if q.paused else 0)
        yield paused
        yield GaugeMetricFamily("worker_admin_dlq_size", "Tasks in the dead-letter queue.", s.dead)
        yield GaugeMetricFamily("worker_admin_dequeue_paused", "1 while dequeue from every queue is paused.",
                                1 if s.overview.paused else 0)  # fmt: skip
        if s.nodes is not None:
            yield GaugeMetricFamily("worker_admin_nodes_live", "Worker nodes with a live heartbeat.", len(s.nodes))
        actions = CounterMetricFamily("worker_admin_actions", "Admin actions done through this process.",
                                      labels=["action"])  # fmt: skip
        for action, count in (("pause", s.overview.pauses), ("resume", s.overview.resumes),
                              ("replay", s.overview.replays)):  # fmt: skip
            actions.add_metric([action], count)
        yield actions
        yield from self._http()

    def _http(self) -> Iterator[Metric]:
        labels = ["method", "route"]
        calls = CounterMetricFamily("worker_admin_http_calls", "Gateway requests.", labels=labels)
        errors = CounterMetricFamily("worker_admin_http_errors", "Gateway requests answered >= 400.", labels=labels)
        total = CounterMetricFamily("worker_admin_http_duration_milliseconds", "Milliseconds spent answering.",
                                    labels=labels)
        most = GaugeMetricFamily("worker_admin_http_duration_milliseconds_max", "The slowest answer (ms).",
                                 labels=labels)  # fmt: skip
        for key, stat in self._s.routes.items():
            method, _, route = key.partition(" ")
            calls.add_metric([method, route], stat.calls)
            errors.add_metric([method, route], stat.errors)
            total.add_metric([method, route], stat.total_ms)
            most.add_metric([method, route], stat.max_ms)
        yield from (calls, errors, total, most)


def prometheus_text(s: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(s))
    return generate_latest(registry)
