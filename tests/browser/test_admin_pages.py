"""The web admin page in a real headless Chromium: sign-in, refusals, live depths, paging, escaping, DLQ replay."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.application.schedules import ScheduleAdmin
from pyworker.domain import DurableState, DurableTask
from tests.browser.admin_support import EXPECT_MS, Store, ThreadedAdmin, row_ids, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]


def test_sign_in_with_the_password_shows_the_overview(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    store.enqueue("emails", 4)
    page.goto(f"{admin.url}/tasks/ready")
    assert page.url.startswith(f"{admin.url}/login")  # no session: sent to sign in
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Wrong password or token.", timeout=EXPECT_MS)
    shot(page, "sign-in")

    sign_in(page, admin.url)
    expect(page.locator("#queues tr[data-queue=emails] [data-cell=ready]")).to_have_text("4", timeout=EXPECT_MS)
    cookie = next(c for c in page.context.cookies() if c["name"] == "pyworker_admin")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    shot(page, "overview")


def test_without_a_session_or_a_csrf_token_nothing_changes(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    anonymous = page.request.get(f"{admin.url}/tasks/dead", max_redirects=0)
    assert anonymous.status == 303
    assert anonymous.headers["location"] == "/login?next=/tasks/dead"
    assert page.request.post(f"{admin.url}/pause", form={"queue": ""}, max_redirects=0).status == 401

    sign_in(page, admin.url)
    refused = page.request.post(f"{admin.url}/pause", form={"queue": ""}, max_redirects=0)
    assert refused.status == 403
    assert "CSRF" in refused.text()
    assert store.backend(lambda backend: backend.stats()).paused is False

    # The same request with the page's token goes through: the check is the token, not a blanket refusal.
    token = page.locator("form[action='/pause'] input[name=csrf]").first.input_value()
    accepted = page.request.post(f"{admin.url}/pause", form={"queue": "", "csrf": token}, max_redirects=0)
    assert accepted.status == 303
    assert store.backend(lambda backend: backend.stats()).paused is True
    page.reload()
    expect(page.locator("[data-field=paused-banner]")).to_be_visible()
    shot(page, "paused")


def test_a_queue_depth_changes_live_as_a_producer_enqueues(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    sign_in(page, admin.url)
    expect(page.locator("[data-field=live]")).to_contain_text("live", timeout=EXPECT_MS)
    page.evaluate("window.__same_page = true")
    cell = page.locator("#queues tr[data-queue=reports] [data-cell=ready]")
    expect(cell).to_have_count(0)

    store.enqueue("reports", 3)
    expect(cell).to_have_text("3", timeout=EXPECT_MS)
    store.enqueue("reports", 2)
    expect(cell).to_have_text("5", timeout=EXPECT_MS)
    expect(page.locator("[data-total=ready]")).to_have_text("5", timeout=EXPECT_MS)
    assert page.evaluate("window.__same_page") is True  # updated in place over SSE, never reloaded
    shot(page, "overview-live")


def test_paging_through_1000_ready_tasks(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    enqueued = set(store.enqueue("bulk", 1000))
    sign_in(page, admin.url)
    page.goto(f"{admin.url}/tasks/ready?queue=bulk")
    shot(page, "tasks")
    seen: list[str] = []
    pages = 0
    while True:
        ids = row_ids(page)
        assert len(ids) == 100
        seen.extend(ids)
        pages += 1
        following = page.locator("a[rel=next]")
        if following.count() == 0:
            break
        following.click()
        page.wait_for_load_state()
    assert pages == 10
    assert len(seen) == 1000
    assert set(seen) == enqueued


def test_markup_from_redis_renders_as_text(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    handler = "<script>window.__pwned = 1</script><b>bold</b>"
    note = '<img src=x onerror="window.__pwned = 2">'
    task = DurableTask(
        handler=handler, payload=b"<script>window.__pwned = 3</script>", id=uuid.uuid4(), queue="<i>q</i>",
        metadata={"note": note},
    )  # fmt: skip
    task_id = store.dead(task, "<script>window.__pwned = 4</script>")
    sign_in(page, admin.url)

    page.goto(f"{admin.url}/tasks/dead")
    expect(page.locator(f"#tasks tr[data-task='{task_id}'] td").nth(2)).to_have_text(handler)
    page.goto(f"{admin.url}/task/{task_id}")
    expect(page.locator("[data-field=handler]")).to_have_text(handler)
    expect(page.locator("#metadata td")).to_have_text(note)
    expect(page.locator("[data-field=payload]")).to_have_text("<script>window.__pwned = 3</script>")
    expect(page.locator("[data-field=last-error]")).to_have_text("<script>window.__pwned = 4</script>")
    assert page.locator("main b, main img, main i, main script").count() == 0  # no markup became elements
    assert page.evaluate("window.__pwned") is None  # and nothing ran
    shot(page, "task-escaped")


def test_replaying_a_dead_task_from_the_dlq_page(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    task = DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails", retries=0)
    task_id = store.dead(task, "smtp timeout")
    other = store.dead(DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails"), "x")
    sign_in(page, admin.url)
    page.goto(f"{admin.url}/tasks/dead")
    page.check(f"input[name=id][value='{task_id}']")
    page.click("button[value=replay]")

    change = page.locator("#change tbody tr")
    expect(change).to_have_count(1)
    expect(change.locator("td").first).to_have_text(task_id)
    expect(change.locator("td").last).to_have_text("ready in emails")
    assert store.state(task_id) is DurableState.DEAD  # the confirmation changes nothing
    shot(page, "dlq-confirm")

    page.click("form[action='/dlq/apply'] button[type=submit]")
    expect(page.get_by_role("status")).to_contain_text("Replayed 1 task", timeout=EXPECT_MS)
    assert row_ids(page) == [other]
    assert store.state(task_id) is DurableState.READY
    assert store.state(other) is DurableState.DEAD


def test_schedules_pause_resume_and_history(page: Page, admin: ThreadedAdmin, store: Store) -> None:
    fired = DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="default")

    async def fire(backend: RedisDurableBackend) -> None:
        await backend.schedule_store().fire("nightly", 1_767_268_800.0, fired, skip_if_running=False, history=10)

    store.backend(fire)
    sign_in(page, admin.url)
    page.goto(f"{admin.url}/schedules")
    page.fill("form[action='/schedules/pause'] input[name=name]", "nightly")
    page.click("form[action='/schedules/pause'] button")
    expect(page.get_by_role("status")).to_have_text("Paused schedule nightly on every node.")
    expect(page.locator("[data-field=paused-names]")).to_have_text("nightly")
    paused = store.backend(lambda backend: ScheduleAdmin(backend.schedule_store()).paused())
    assert paused == (False, ["nightly"])
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(2)).to_have_text("fired")
    expect(rows.locator("td a")).to_have_text(str(fired.id))
    shot(page, "schedules")

    page.click("form[action='/schedules/pause'] button")  # empty name: every schedule
    expect(page.locator("[data-field=every-paused]")).to_be_visible()
    page.fill("form[action='/schedules/resume'] input[name=name]", "nightly")
    page.click("form[action='/schedules/resume'] button")
    expect(page.locator("[data-field=paused-names]")).to_have_text("none")
    page.click("form[action='/schedules/resume'] button")
    expect(page.locator("[data-field=every-paused]")).to_be_hidden()
    assert store.backend(lambda backend: ScheduleAdmin(backend.schedule_store()).paused()) == (False, [])
