"""The admin page over the AdminService in a real Chromium: queues (weights, pause), the audit log,
handler search, replay of the oldest N, registered schedules with run-now, and the charts' history."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.application.admin import AdminGuardrails, Sample
from pyworker.application.admin.history import SAMPLE_CAPACITY, bucket_of
from pyworker.domain import DurableState, DurableTask, TaskNotFoundError
from pyworker.domain.admin import AuditEvent
from tests.browser.admin_support import EXPECT_MS, Store, ThreadedAdmin, row_ids, shot, sign_in
from tests.support import admin_app

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]
#: An SVG polyline of two points or more.
POINTS = re.compile(r"^\d+\.\d,\d+\.\d( \d+\.\d,\d+\.\d)+$")


def audit_events(store: Store) -> list[AuditEvent]:
    return store.backend(lambda backend: backend.audit_log().events(limit=100))


def test_the_queues_page_sets_and_resets_a_weight_and_pauses_a_queue(
    page: Page, admin: ThreadedAdmin, store: Store
) -> None:
    store.enqueue("emails", 3)
    store.enqueue("reports", 1)
    sign_in(page, admin.url)
    page.click("header nav >> text=Queues")
    row = page.locator("#queue-list tr[data-queue=emails]")
    expect(row.locator("[data-cell=ready]")).to_have_text("3")
    expect(row.locator("[data-cell=weight]")).to_have_text("1")

    row.locator("input[name=weight]").fill("5")
    row.locator("button", has_text="Set weight").click()
    expect(page.get_by_role("status")).to_have_text("Weight of queue emails set to 5.", timeout=EXPECT_MS)
    expect(row.locator("[data-cell=weight]")).to_have_text("5")
    assert store.backend(lambda backend: backend.queue_weights().weights()) == {"emails": 5}

    row.locator("button", has_text="Pause").click()
    expect(row.locator("[data-cell=state]")).to_have_text("paused", timeout=EXPECT_MS)
    assert page.url == f"{admin.url}/queues"  # back to the page the form came from
    paused = store.backend(lambda backend: backend.stats())
    assert [q.queue for q in paused.queues if q.paused] == ["emails"]
    shot(page, "queues")

    row.locator("button", has_text="Reset").click()
    expect(page.get_by_role("status")).to_have_text("Weight of queue emails reset to the nodes' own.")
    assert store.backend(lambda backend: backend.queue_weights().weights()) == {}
    row.locator("button", has_text="Resume").click()
    expect(row.locator("[data-cell=state]")).to_have_text("running", timeout=EXPECT_MS)

    token = row.locator("input[name=csrf]").first.input_value()  # the form says min=1; the server checks too
    refused = page.request.post(f"{admin.url}/queues/weight", form={"queue": "reports", "weight": "0", "csrf": token})
    assert refused.status == 400
    assert "a queue weight is a whole number from 1" in refused.text()
    assert store.backend(lambda backend: backend.queue_weights().weights()) == {}


def test_every_action_is_audited_with_the_actor_and_request_id(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    store.enqueue("emails", 1)
    sign_in(page, admin.url)
    token = page.locator("form[action='/pause'] input[name=csrf]").first.input_value()
    for path, queue in (("/pause", "emails"), ("/resume", "emails"), ("/pause", "")):
        answer = page.request.post(f"{admin.url}{path}", form={"queue": queue, "csrf": token}, max_redirects=0,
                                   headers={"X-Request-Id": f"req-{path[1:]}-{queue or 'all'}"})  # fmt: skip
        assert answer.status == 303
    missing = page.request.post(f"{admin.url}/pause", form={"queue": "<i>nowhere</i>", "csrf": token},
                                max_redirects=0)  # fmt: skip
    assert missing.status == 404  # an unknown queue: refused, and audited as refused

    events = audit_events(store)
    assert [(e.action, e.target, e.status, e.actor) for e in events] == [
        ("queue.pause", "<i>nowhere</i>", "error", "web:password"),
        ("dequeue.pause", "*", "ok", "web:password"),
        ("queue.pause", "emails", "ok", "web:password"),
        ("queue.pause", "emails", "ok", "web:password"),
    ]  # fmt: skip
    assert [e.request_id for e in events[1:]] == ["req-pause-all", "req-resume-emails", "req-pause-emails"]
    assert len(events[0].request_id) == 32  # none sent: one is made

    page.click("header nav >> text=Audit")
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first.locator("td").nth(2)).to_have_text("queue.pause")
    expect(rows.first.locator("td").nth(4)).to_have_text("error")
    expect(rows.first.locator("td").nth(3)).to_have_text("<i>nowhere</i>")  # as text
    assert page.locator("main i").count() == 0
    shot(page, "audit")

    page.fill("input[name=action]", "queue.pause")
    page.fill("input[name=target]", "emails")
    page.click("form.filter button")
    expect(rows).to_have_count(2)
    page.goto(f"{admin.url}/audit?limit=3")
    expect(rows).to_have_count(3)
    page.click("a[rel=next]")  # "Show more": a larger limit
    expect(rows).to_have_count(4)
    assert "limit=6" in page.url


def test_search_by_handler_reads_a_few_store_pages_per_page(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    store.enqueue("emails", 250)
    needles = store.enqueue("emails", 3, handler="<b>needle</b>")
    store.enqueue("emails", 20)
    sign_in(page, admin.url)
    page.goto(f"{admin.url}/tasks/ready")
    page.fill("form.filter input[name=handler]", "needle")
    page.click("form.filter button")
    expect(page.locator("#tasks tbody tr[data-task]")).to_have_count(3, timeout=EXPECT_MS)
    assert sorted(row_ids(page)) == sorted(needles)
    expect(page.locator("#tasks tbody tr[data-task] td").nth(1)).to_have_text("<b>needle</b>")  # as text
    expect(page.locator("[data-field=shown]")).to_have_text("3 on this page (of 273 tasks read)")
    expect(page.locator("a[rel=next]")).to_have_count(0)  # the whole queue was within the scan
    shot(page, "task-search")


def test_replay_the_oldest_n_after_a_confirmation_and_delete_audited(
    page: Page, admin: ThreadedAdmin, store: Store
) -> None:
    ids = [
        store.dead(DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails"), f"boom {n}")
        for n in range(3)
    ]
    sign_in(page, admin.url)
    page.goto(f"{admin.url}/tasks/dead")
    page.fill("#replay-oldest input[name=count]", "2")
    page.click("#replay-oldest button")

    expect(page.locator("h1")).to_have_text("Confirm: replay the 2 oldest dead tasks")
    change = page.locator("#change tbody tr")
    expect(change).to_have_count(2)
    assert change.locator("td:first-child").all_inner_texts() == ids[:2]  # oldest first
    assert [store.state(i) for i in ids] == [DurableState.DEAD] * 3  # nothing changed yet
    shot(page, "dlq-oldest")

    page.click("form[action='/dlq/apply'] button[type=submit]")
    expect(page.get_by_role("status")).to_contain_text("Replayed 2 tasks", timeout=EXPECT_MS)
    assert [store.state(i) for i in ids] == [DurableState.READY, DurableState.READY, DurableState.DEAD]
    assert row_ids(page) == [ids[2]]

    page.check(f"input[name=id][value='{ids[2]}']")  # the page's own delete is audited too
    page.click("button[value=delete]")
    page.click("form[action='/dlq/apply'] button[type=submit]")
    expect(page.get_by_role("status")).to_have_text("Deleted 1 task.", timeout=EXPECT_MS)
    with pytest.raises(TaskNotFoundError):
        store.get(ids[2])
    events = audit_events(store)
    assert [(e.action, e.status, e.actor) for e in events] == [
        ("dlq.delete_ids", "ok", "web:password"), ("dlq.replay_ids", "ok", "web:password"),
    ]  # fmt: skip


@pytest.fixture
def scheduling_admin(store: Store) -> Iterator[ThreadedAdmin]:
    """The admin page with the app's handlers and schedules (``--app``, ``--schedules``)."""
    wiring = {"handlers": admin_app.registry.handlers(), "schedules": admin_app.schedules,
              "schedules_spec": "tests.support.admin_app:schedules", "codec": "json"}  # fmt: skip
    server = ThreadedAdmin(store, wiring=wiring)
    try:
        yield server
    finally:
        server.stop()


def test_registered_schedules_with_their_next_run_and_run_now(
    page: Page, scheduling_admin: ThreadedAdmin, store: Store
) -> None:
    sign_in(page, scheduling_admin.url)
    page.click("header nav >> text=Schedules")
    row = page.locator("#registered tr[data-schedule=nightly-report]")
    expect(row.locator("td").nth(1)).to_have_text("0 3 * * *")
    expect(row.locator("[data-cell=next]")).to_contain_text("03:00:00 UTC")
    expect(row.locator("[data-cell=last]")).to_have_text("—")

    row.locator("button", has_text="Run now").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Ran schedule nightly-report now: task ", timeout=EXPECT_MS)
    task_id = status.inner_text().rsplit(" ", 1)[1].rstrip(".")
    record = store.get(task_id)
    assert (record.state, record.queue, record.handler) == (DurableState.READY, "reports", "report")
    expect(page.locator("#history tbody tr td").nth(1)).to_have_text("run now")
    page.click("header nav >> text=Schedules")
    expect(row.locator("[data-cell=last]")).not_to_have_text("—")

    row.locator("button", has_text="Pause").click()
    expect(row.locator("[data-cell=state]")).to_have_text("paused", timeout=EXPECT_MS)
    expect(row.locator("[data-cell=next]")).to_have_text("—")
    shot(page, "schedules-registered")
    assert [e.action for e in audit_events(store)] == ["schedule.pause", "schedule.run"]


def settle(store: Store, completed: int, failed: int) -> None:
    """Run tasks to their end as a node with results on would: ``completed`` acked, ``failed`` dead."""

    async def go(backend: RedisDurableBackend) -> None:
        await backend.configure_results(60.0, 1000, "node-test")
        tasks = [DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails", retries=0)
                 for _ in range(completed + failed)]  # fmt: skip
        await backend.enqueue_many(tasks)
        leases = await backend.dequeue(len(tasks), 30.0)
        for lease in leases[:completed]:
            await backend.ack(lease)
        for lease in leases[completed:]:
            await backend.fail(lease, "boom")

    store.backend(go)


def seed_history(store: Store, interval: float) -> None:
    """Earlier samples (older than 10 s, so the admin's own buckets stay free), as a busy hour draws."""

    async def go(backend: RedisDurableBackend) -> None:
        history = backend.admin_history()
        newest = bucket_of(time.time(), interval) - 10.0
        for k in range(SAMPLE_CAPACITY - 30):
            wave = (math.sin(k / 25) + 1) / 2
            sample = Sample(newest - k * interval, ready=round(3 * wave), delayed=(k // 40) % 2, processing=1, dead=0)
            await history.add(sample, interval, SAMPLE_CAPACITY)

    store.backend(go)


def test_the_charts_draw_the_history_kept_in_redis_across_a_restart(page: Page, store: Store) -> None:
    wiring = {"history_interval": 0.5}
    seed_history(store, 0.5)
    first = ThreadedAdmin(store, wiring=wiring, session_secret="shared")  # the session outlives the restart
    try:
        sign_in(page, first.url)
        store.enqueue("emails", 4)
        settle(store, completed=3, failed=1)
        maximum = page.locator("#chart-throughput text.tick").first
        expect(maximum).to_have_text("max 3", timeout=EXPECT_MS)  # the bucket with the 3 acks is drawn
        expect(page.locator("#chart-depth polyline[data-series=ready]")).to_have_attribute("points", POINTS)
        shot(page, "overview-charts")
    finally:
        first.stop()
    samples = int(page.locator("[data-field=samples]").inner_text())
    assert samples >= SAMPLE_CAPACITY - 30 + 2  # the seeded ones and the admin's own

    second = ThreadedAdmin(store, wiring=wiring, session_secret="shared")  # a new admin process reads the same history
    try:
        page.goto(f"{second.url}/")
        expect(maximum).to_have_text("max 3", timeout=EXPECT_MS)
        assert int(page.locator("[data-field=samples]").inner_text()) >= samples
    finally:
        second.stop()


def test_with_approval_required_a_replay_needs_the_token(page: Page, store: Store) -> None:
    task_id = store.dead(DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails"), "boom")
    guardrails = AdminGuardrails(require_approval=True, approval_token="let-me")
    admin = ThreadedAdmin(store, wiring={"guardrails": guardrails})
    try:
        sign_in(page, admin.url)
        page.goto(f"{admin.url}/tasks/dead")
        page.check(f"input[name=id][value='{task_id}']")
        page.click("button[value=replay]")
        page.fill("form[action='/dlq/apply'] input[name=approval]", "wrong")
        page.click("form[action='/dlq/apply'] button[type=submit]")
        expect(page.locator("main")).to_contain_text("admin approval token is invalid", timeout=EXPECT_MS)
        assert store.state(task_id) is DurableState.DEAD

        page.go_back()
        page.fill("form[action='/dlq/apply'] input[name=approval]", "let-me")
        page.click("form[action='/dlq/apply'] button[type=submit]")
        expect(page.get_by_role("status")).to_contain_text("Replayed 1 task", timeout=EXPECT_MS)
        assert store.state(task_id) is DurableState.READY
        assert [(e.action, e.status) for e in audit_events(store)] == [
            ("dlq.replay_ids", "ok"), ("dlq.replay_ids", "error"),
        ]  # fmt: skip
    finally:
        admin.stop()
