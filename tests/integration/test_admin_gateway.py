"""The /admin/v1 JSON gateway through HTTP (httpx) on a real server on 127.0.0.1 over the real Redis
(docs/admin.md, "JSON gateway"): every route, the envelope, auth, approval, the audit event of each action."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pyworker.adapters.redis import new_redis_client
from pyworker.adapters.web.gateway.encode import schedule_json, short_duration
from pyworker.application.admin import AdminGuardrails, ScheduleEntry
from pyworker.domain import DurableState, DurableTask
from tests.support.admin_gateway import TOKEN, URL, Served, delete_prefix, new_prefix, served
from tests.support.admin_process import AdminProcess
from tests.support.waits import within

pytestmark = pytest.mark.redis


@pytest.fixture
async def gw() -> AsyncIterator[Served]:
    async with served() as s:
        yield s


async def enqueue(s: Served, queue: str, count: int = 1) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    for task_id in ids:
        await s.backend.enqueue(DurableTask(handler="send_email", payload=b"xyz", id=task_id, queue=queue,
                                            metadata={"tenant": "t1"}))  # fmt: skip
    return ids


async def dead(s: Served, queue: str, count: int = 1) -> list[uuid.UUID]:
    ids = await enqueue(s, queue, count)
    await s.backend.configure_queues("default", {}, [queue])
    for lease in await s.backend.dequeue(count, 30.0):
        await s.backend.fail(lease, "boom")
    await s.backend.configure_queues("default", {})
    return ids


def refused(response: httpx.Response, status: int, code: str, text: str = "") -> dict[str, Any]:
    """The envelope of an error: status, code, message, and the request id of the header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"requestId", "error"}, body
    assert body["error"]["code"] == code, body
    assert text in body["error"]["message"], body
    assert body["requestId"] == response.headers["x-request-id"]
    return dict(body)


async def audited(s: Served, request_id: str) -> dict[str, Any]:
    """The one audit event the request ``request_id`` recorded, read back through GET /audit."""
    events = (await s.http.get("/audit")).json()["events"]
    mine = [e for e in events if e["requestId"] == request_id]
    assert len(mine) == 1, events
    return dict(mine[0])


async def act(s: Served, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
    rid = f"req-{uuid.uuid4().hex[:12]}"
    sent = {"X-Request-Id": rid, "X-Admin-Actor": "alice", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return await s.http.request(method, path, json=body, headers=sent)


# -- health, overview, queues -------------------------------------------------------------------


async def test_health_and_overview(gw: Served) -> None:
    health = (await gw.http.get("/health")).json()
    assert health["status"] == "ok"
    assert health["version"]
    assert health["goVersion"].startswith("python")
    await enqueue(gw, "emails", 3)
    overview = (await gw.http.get("/overview")).json()
    assert overview["stats"] == {"activeWorkers": 0, "queuedTasks": 3, "queues": 2, "avgLatencyMs": -1,
                                 "p95LatencyMs": -1}  # fmt: skip
    assert overview["coordination"]["paused"] is False
    assert overview["actions"] == {"pause": 0, "resume": 0, "replay": 0}


async def test_queues_weights_and_pause_are_audited(gw: Served) -> None:
    await enqueue(gw, "emails", 2)
    listed = (await gw.http.get("/queues")).json()["queues"]
    assert [q["name"] for q in listed] == ["default", "emails"]
    assert listed[1] == {"name": "emails", "ready": 2, "delayed": 0, "processing": 0, "dead": 0, "weight": 1,
                         "paused": False}  # fmt: skip
    assert (await gw.http.get("/queues/emails")).json()["queue"]["ready"] == 2

    weighted = await act(gw, "POST", "/queues/emails/weight", {"weight": 5})
    assert weighted.json()["queue"]["weight"] == 5
    assert await gw.backend.queue_weights().weights() == {"emails": 5}
    event = await audited(gw, weighted.headers["x-request-id"])
    assert (event["action"], event["target"], event["status"], event["actor"]) == (
        "queue.update_weight", "emails", "ok", "alice")  # fmt: skip

    reset = await act(gw, "DELETE", "/queues/emails/weight")
    assert reset.json()["queue"]["weight"] == 1
    assert (await audited(gw, reset.headers["x-request-id"]))["action"] == "queue.reset_weight"

    paused = await act(gw, "POST", "/queues/emails/pause")  # an empty body pauses
    assert paused.json()["queue"]["paused"] is True
    assert {q.queue: q.paused for q in (await gw.backend.stats()).queues}["emails"]
    resumed = await act(gw, "POST", "/queues/emails/pause", {"paused": False})
    assert resumed.json()["queue"]["paused"] is False
    assert (await audited(gw, resumed.headers["x-request-id"]))["action"] == "queue.pause"


async def test_queue_errors_are_enveloped(gw: Served) -> None:
    await enqueue(gw, "emails")
    refused(await gw.http.get("/queues/nope"), 404, "notfound", "admin queue not found")
    bad = await act(gw, "POST", "/queues/emails/weight", {"weight": 0})
    refused(bad, 400, "invalidargument", "admin queue weight is invalid")
    assert (await audited(gw, bad.headers["x-request-id"]))["status"] == "error"
    refused(await gw.http.post("/queues/emails/weight", content=b"{not json"), 400, "invalid_json")
    refused(await gw.http.post("/queues/emails/weight", json={"weight": "heavy"}), 400, "invalid_json")
    refused(await gw.http.get("/queues/%20"), 400, "missing_queue", "Queue name is required")
    refused(await gw.http.get("/queues/emails/weight"), 405, "method_not_allowed")
    assert await gw.backend.queue_weights().weights() == {}


async def test_a_queue_name_with_a_slash_reaches_its_sub_routes(gw: Served) -> None:
    await enqueue(gw, "team/a")
    assert (await gw.http.get("/queues/team%2Fa")).json()["queue"]["name"] == "team/a"
    weighted = await gw.http.post("/queues/team/a/weight", json={"weight": 3})
    assert weighted.json()["queue"] == {"name": "team/a", "ready": 1, "delayed": 0, "processing": 0, "dead": 0,
                                        "weight": 3, "paused": False}  # fmt: skip


# -- the DLQ and dequeue --------------------------------------------------------------------------


async def test_dlq_list_filter_detail_and_errors(gw: Served) -> None:
    mail = await dead(gw, "emails", 2)
    await dead(gw, "reports", 1)
    page = (await gw.http.get("/dlq")).json()
    assert page["total"] == 3
    assert len(page["entries"]) == 3
    assert set(page["entries"][0]) == {"id", "queue", "handler", "attempts", "ageMs"}
    filtered = (await gw.http.get("/dlq", params={"queue": "emails", "limit": "1"})).json()
    assert filtered["total"] == 2
    assert len(filtered["entries"]) == 1
    assert filtered["entries"][0]["queue"] == "emails"
    entry = (await gw.http.get(f"/dlq/{mail[0]}")).json()["entry"]
    assert (entry["id"], entry["lastError"], entry["payloadSize"], entry["metadata"]) == (
        str(mail[0]), "boom", 3, {"tenant": "t1"})  # fmt: skip
    assert entry["failedAtMs"] > 0
    refused(await gw.http.get("/dlq/not-a-uuid"), 400, "invalidargument")
    refused(await gw.http.get(f"/dlq/{uuid.uuid4()}"), 404, "notfound")


async def test_dlq_replays_are_audited_and_counted(gw: Served) -> None:
    ids = await dead(gw, "emails", 3)
    by_id = await act(gw, "POST", "/dlq/replay/ids", {"ids": [str(ids[0]), " ", str(ids[0])]})
    assert by_id.json() == {"moved": 1}
    assert (await gw.backend.get(ids[0])).state is DurableState.READY
    event = await audited(gw, by_id.headers["x-request-id"])
    assert (event["action"], event["target"], event["actor"]) == ("dlq.replay_ids", "*", "alice")
    replay = await act(gw, "POST", "/dlq/replay", {"limit": 5})
    assert replay.json() == {"moved": 2}
    assert (await audited(gw, replay.headers["x-request-id"]))["action"] == "dlq.replay"
    assert (await gw.backend.stats()).dead == 0
    assert (await gw.http.get("/overview")).json()["actions"]["replay"] == 2
    refused(await gw.http.post("/dlq/replay/ids", content=b"[1"), 400, "invalid_body", "Invalid request body")
    refused(await gw.http.post("/dlq/replay/ids", json={"ids": "x"}), 400, "invalid_body")
    refused(await gw.http.post("/dlq/replay/ids", json={"ids": []}), 400, "invalidargument")


async def test_pause_and_resume_dequeue(gw: Served) -> None:
    paused = await act(gw, "POST", "/pause")
    assert paused.json() == {"paused": True}
    assert (await gw.backend.stats()).paused
    assert (await audited(gw, paused.headers["x-request-id"]))["action"] == "dequeue.pause"
    resumed = await act(gw, "POST", "/resume")
    assert resumed.json() == {"paused": False}
    assert not (await gw.backend.stats()).paused
    assert (await audited(gw, resumed.headers["x-request-id"]))["action"] == "dequeue.resume"
    assert (await gw.http.get("/overview")).json()["actions"] == {"pause": 1, "resume": 1, "replay": 0}


async def test_approval_and_limits_are_enforced() -> None:
    guardrails = AdminGuardrails(require_approval=True, approval_token="s3cret", replay_limit_max=10)
    async with served(guardrails=guardrails) as s:
        ids = await dead(s, "emails", 1)
        missing = await act(s, "POST", "/dlq/replay", {"limit": 1})
        refused(missing, 403, "permissiondenied", "admin approval token is required")
        event = await audited(s, missing.headers["x-request-id"])
        assert (event["status"], event["metadata"]) == ("error", {"code": "permission_denied"})
        wrong = await act(s, "POST", "/dlq/replay/ids", {"ids": [str(ids[0])]}, X_Admin_Approval="nope")
        refused(wrong, 403, "permissiondenied", "admin approval token is invalid")
        refused(await act(s, "POST", "/schedules/nightly/run"), 403, "permissiondenied")
        over = await act(s, "POST", "/dlq/replay", {"limit": 50}, X_Admin_Approval="s3cret")
        refused(over, 429, "resourceexhausted", "admin replay limit exceeds policy")
        assert (await s.backend.get(ids[0])).state is DurableState.DEAD
        ok = await act(s, "POST", "/dlq/replay/ids", {"ids": [str(ids[0])]}, X_Admin_Approval="s3cret")
        assert ok.json() == {"moved": 1}
        assert (await s.backend.get(ids[0])).state is DurableState.READY


# -- schedules ------------------------------------------------------------------------------------


async def test_schedule_routes(gw: Served) -> None:
    (entry,) = (await gw.http.get("/schedules")).json()["schedules"]
    # The manager is never started here: the next run is the spec's next tick (within a day for "0 3 * * *").
    next_ms = entry.pop("nextRunMs")
    assert 0 < next_ms - time.time() * 1000 <= 24 * 3600 * 1000
    assert entry.pop("nextRun").startswith("in ")
    assert entry == {"name": "nightly", "schedule": "0 3 * * *", "lastRun": "n/a", "lastRunMs": 0,
                     "status": "healthy", "paused": False, "durable": True}  # fmt: skip
    factories = (await gw.http.get("/schedules/factories")).json()
    assert factories == {"factories": [{"name": "nightly", "durable": True}]}

    everything = await act(gw, "POST", "/schedules/pause")
    assert everything.json() == {"updated": 1, "paused": True}
    event = await audited(gw, everything.headers["x-request-id"])
    assert (event["action"], event["target"]) == ("schedule.pause_all", "*")
    assert (await act(gw, "POST", "/schedules/pause", {"paused": False})).json() == {"updated": 1, "paused": False}
    paused = await act(gw, "POST", "/schedules/nightly/pause")
    assert paused.json()["schedule"]["paused"] is True
    assert (await audited(gw, paused.headers["x-request-id"]))["action"] == "schedule.pause"

    run = await act(gw, "POST", "/schedules/nightly/run")
    task_id = run.json()["taskId"]
    assert (await gw.backend.get(uuid.UUID(task_id))).queue == "reports"
    assert (await audited(gw, run.headers["x-request-id"]))["action"] == "schedule.run"
    events = (await gw.http.get("/schedules/events", params={"name": "nightly"})).json()["events"]
    assert [e["taskId"] for e in events] == [task_id]

    deleted = await act(gw, "DELETE", "/schedules/nightly")
    assert deleted.json() == {"deleted": True}
    assert (await gw.http.get("/schedules")).json() == {"schedules": []}
    mismatch = await act(gw, "POST", "/schedules", {"name": "nightly", "spec": "*/5 * * * *", "durable": False})
    refused(mismatch, 412, "failedprecondition", "durable flag mismatch")
    created = await act(gw, "POST", "/schedules", {"name": "nightly", "spec": "*/5 * * * *", "durable": True})
    assert created.json()["schedule"]["schedule"] == "*/5 * * * *"
    assert (await audited(gw, created.headers["x-request-id"]))["action"] == "schedule.create"
    refused(await gw.http.post("/schedules/nope/pause"), 404, "notfound")
    refused(await gw.http.post("/schedules", json={"name": "", "spec": ""}), 400, "invalidargument")


def test_schedule_status_and_times_as_go_worker_words_them() -> None:
    now = 1_000_000.0
    entry = ScheduleEntry(name="n", spec="* * * * *", durable=False, paused=False, next_run=now + 185, last_run=now - 7)
    shown = schedule_json(entry, now)
    assert (shown["status"], shown["nextRun"], shown["lastRun"]) == ("healthy", "in 3m", "7s ago")
    lagging = schedule_json(attrs.evolve(entry, next_run=now - 121), now)
    assert (lagging["status"], lagging["nextRun"]) == ("lagging", "overdue")
    assert schedule_json(attrs.evolve(entry, paused=True, next_run=None), now)["status"] == "paused"
    assert short_duration(0.85) == "850ms"
    assert short_duration(2 * 86400 + 5) == "2d"


# -- container jobs: 501 --------------------------------------------------------------------------


async def test_job_routes_answer_unimplemented(gw: Served) -> None:
    for method, path in (("GET", "/jobs"), ("GET", "/jobs/events"), ("GET", "/jobs/build"),
                         ("GET", "/jobs/build/artifact/meta"), ("GET", "/jobs/build/artifact")):  # fmt: skip
        refused(await gw.http.request(method, path), 501, "unimplemented", "container jobs are not supported")
    for method, path, body, action in (("POST", "/jobs", {"name": "build"}, "job.upsert"),
                                       ("DELETE", "/jobs/build", None, "job.delete"),
                                       ("POST", "/jobs/build/run", None, "job.run")):  # fmt: skip
        response = await act(gw, method, path, body)
        refused(response, 501, "unimplemented", "container jobs are not supported by pyworker")
        event = await audited(gw, response.headers["x-request-id"])
        assert (event["action"], event["target"], event["status"]) == (action, "build", "error")


# -- auth, read-only, request ids, gateway-local errors -------------------------------------------


async def test_requests_without_a_session_or_the_token_are_refused(gw: Served) -> None:
    async with gw.server.client(Authorization="") as anonymous:
        refused(await anonymous.get("/queues"), 401, "unauthenticated")
        refused(await anonymous.post("/pause"), 401, "unauthenticated")
    async with gw.server.client(Authorization="Bearer wrong") as wrong:
        refused(await wrong.get("/overview"), 401, "unauthenticated")
    assert not (await gw.backend.stats()).paused
    # a caller that is not signed in writes nothing, not even to the audit log
    assert (await gw.http.get("/audit")).json() == {"events": []}


async def test_a_page_session_reads_and_changes_with_its_csrf_token(gw: Served) -> None:
    client, csrf = await gw.server.session()
    try:
        assert (await client.get("/admin/v1/dlq")).json() == {"entries": [], "total": 0}
        refused(await client.post("/admin/v1/pause"), 403, "csrf_required")
        forged = await client.post("/admin/v1/pause", headers={"X-CSRF-Token": "forged", "X-Request-Id": "forged"})
        refused(forged, 403, "csrf_required")
        assert not (await gw.backend.stats()).paused
        event = await audited(gw, "forged")  # a signed-in caller's refused change is recorded
        assert (event["action"], event["target"], event["status"], event["actor"]) == (
            "http.refused", "POST /pause", "error", "admin"
        )
        assert event["detail"] == "csrf_required: missing or wrong X-CSRF-Token header"
        done = await client.post("/admin/v1/pause", headers={"X-CSRF-Token": csrf, "X-Request-Id": "by-session"})
        assert done.json() == {"paused": True}
    finally:
        await client.aclose()
    assert (await audited(gw, "by-session"))["actor"] == "admin"  # the session's name without X-Admin-Actor
    bearer = await gw.http.post("/resume", headers={"X-Request-Id": "by-token"})
    assert bearer.status_code == 200
    assert (await audited(gw, "by-token"))["actor"] == "unknown"


async def test_read_only_refuses_every_change() -> None:
    async with served(read_only=True) as s:
        await dead(s, "emails")
        assert (await s.http.get("/dlq")).json()["total"] == 1
        for method, path in (("POST", "/pause"), ("POST", "/dlq/replay"), ("POST", "/queues/emails/pause"),
                             ("DELETE", "/schedules/nightly"), ("POST", "/jobs/x/run")):  # fmt: skip
            refused(await s.http.request(method, path, headers={"X-Request-Id": f"ro-{path.count('/')}{method}"}),
                    403, "read_only")  # fmt: skip
        event = await audited(s, "ro-1POST")
        assert (event["action"], event["target"], event["detail"]) == (
            "http.refused", "POST /pause", "read_only: this admin gateway is read-only"
        )
        stats = await s.backend.stats()
        assert not stats.paused
        assert stats.dead == 1
        assert not any(q.paused for q in stats.queues)


async def test_request_ids_are_sanitised_and_echoed(gw: Served) -> None:
    given = await gw.http.get("/queues/nope", headers={"X-Request-Id": "abc-1.2_3"})
    assert refused(given, 404, "notfound")["requestId"] == "abc-1.2_3"
    cleaned = await gw.http.get("/health", headers={"X-Request-Id": "bad id!<script>"})
    assert cleaned.headers["x-request-id"] == "badidscript"
    long = await gw.http.get("/health", headers={"X-Request-Id": "x" * 300})
    assert long.headers["x-request-id"] == "x" * 128
    for header in ({}, {"X-Request-Id": "!!!"}):
        generated = await gw.http.get("/health", headers=header)
        assert uuid.UUID(generated.headers["x-request-id"])
    paused = await gw.http.post("/pause", headers={"X-Request-Id": "r<1>", "X-Admin-Actor": "bob\tsmith"})
    assert paused.headers["x-request-id"] == "r1"
    assert (await audited(gw, "r1"))["actor"] == "bobsmith"


async def test_gateway_local_errors(gw: Served) -> None:
    refused(await gw.http.put("/pause"), 405, "method_not_allowed", "Method not allowed")
    refused(await gw.http.get("/no/such/route"), 404, "not_found")
    refused(await gw.http.get("/dlq/replay/ids"), 405, "method_not_allowed")
    big = b'{"limit": 1, "pad": "' + b"x" * (1 << 20) + b'"}'
    refused(await gw.http.post("/dlq/replay", content=big), 413, "body_too_large")
    refused(await gw.http.post("/queues/x/pause", content=b"[]"), 400, "invalid_json")


# -- audit and metrics ----------------------------------------------------------------------------


async def test_audit_list_filter_and_export(gw: Served) -> None:
    await act(gw, "POST", "/pause")
    await act(gw, "POST", "/resume")
    only = (await gw.http.get("/audit", params={"action": "dequeue.pause"})).json()["events"]
    assert [e["action"] for e in only] == ["dequeue.pause"]
    assert set(only[0]) == {"atMs", "actor", "requestId", "action", "target", "status", "payloadHash", "detail"}
    jsonl = await gw.http.get("/audit/export")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert jsonl.headers["cache-control"] == "no-store"
    assert jsonl.headers["content-disposition"].startswith('attachment; filename="admin-audit-')
    assert [json.loads(line)["action"] for line in jsonl.text.splitlines()] == ["dequeue.resume", "dequeue.pause"]
    as_json = (await gw.http.get("/audit/export", params={"format": "json", "limit": "1"})).json()
    assert [e["action"] for e in as_json["events"]] == ["dequeue.resume"]
    rows = list(csv.reader(io.StringIO((await gw.http.get("/audit/export", params={"format": "csv"})).text)))
    assert rows[0] == ["at", "actor", "request_id", "action", "target", "status", "payload_hash", "detail"]
    assert [r[3] for r in rows[1:]] == ["dequeue.resume", "dequeue.pause"]


def samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, dict(sample.labels), sample.value


async def test_metrics_json_and_prometheus(gw: Served) -> None:
    await enqueue(gw, "emails", 2)
    await dead(gw, "reports", 1)
    await gw.http.post("/pause")
    as_json = (await gw.http.get("/metrics")).json()
    assert as_json["dlq"] == 1
    assert as_json["paused"] is True
    assert as_json["actions"]["pause"] == 1
    assert as_json["http"]["POST /pause"]["calls"] == 1
    for response in (await gw.http.get("/metrics/prometheus"), await gw.http.get("/metrics?format=prom")):
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        found = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples(response.text)}
        assert found[("worker_admin_queue_ready", (("queue", "emails"),))] == 2
        assert found[("worker_admin_queue_processing", (("queue", "emails"),))] == 0
        assert found[("worker_admin_queue_delayed", (("queue", "emails"),))] == 0
        assert found[("worker_admin_dlq_size", ())] == 1
        assert found[("worker_admin_dequeue_paused", ())] == 1
        assert found[("worker_admin_nodes_live", ())] == 0
        assert found[("worker_admin_actions_total", (("action", "pause"),))] == 1
        assert found[("worker_admin_http_calls_total", (("method", "POST"), ("route", "/pause")))] == 1


# -- the real command -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_workerctl_admin_serves_the_gateway_with_the_guardrails_of_its_environment() -> None:
    prefix = new_prefix()
    env = {**os.environ, "PYWORKER_ADMIN_TOKEN": TOKEN, "PYWORKER_ADMIN_REQUIRE_APPROVAL": "yes"}
    args = ["--listen", "127.0.0.1:0", "--redis-url", URL, "--redis-prefix", prefix]
    process = await asyncio.to_thread(AdminProcess, args, env)
    client = new_redis_client(URL)
    try:
        async with httpx.AsyncClient(base_url=f"{process.url}/admin/v1", timeout=10,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
            assert (await http.get("/health")).json()["status"] == "ok"
            refused(await http.post("/dlq/replay"), 403, "permissiondenied", "admin approval token is required")
            assert (await http.post("/dlq/replay", headers={"X-Admin-Approval": "ok"})).json() == {"moved": 0}
            # started without --app/--schedules, this process holds no schedule
            assert (await http.get("/schedules")).json() == {"schedules": []}
            async with http.stream("GET", "/events") as response:
                assert response.status_code == 200
                first = await within(anext(response.aiter_lines()))
            assert first.startswith("id: ")
    finally:
        assert await asyncio.to_thread(process.stop) == 0
        await delete_prefix(client, prefix)
        await client.aclose()
