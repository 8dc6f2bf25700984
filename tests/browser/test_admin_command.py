"""The real `workerctl admin` command in a browser, beside a real `workerctl worker` node; and --read-only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import Page, expect

from pyworker.domain import DurableState, DurableTask
from tests.browser.admin_support import EXPECT_MS, PASSWORD, URL, Store, row_ids, shot, sign_in
from tests.support.admin_process import AdminProcess
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.slow]

BOUND = 15.0
#: How long a paused node is watched for a run it must not make (a negative can only be bounded).
QUIET = 1.5


def start_admin(store: Store, *extra: str) -> AdminProcess:
    env = {**os.environ, "PYWORKER_ADMIN_PASSWORD": PASSWORD}
    args = ["--listen", "127.0.0.1:0", "--redis-url", URL, "--redis-prefix", store.prefix, "--refresh", "200ms"]
    return AdminProcess([*args, *extra], env)


@pytest.fixture
def probe() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        yield client
    finally:
        client.close()


def ran(probe: redis.Redis, key: str, seconds: float) -> str | None:
    """The next ``task_id:attempt:pid`` the fault app's handler recorded, or None within ``seconds``."""
    popped = probe.blpop([f"{key}:progress"], timeout=seconds)
    if popped is None:
        return None
    value = popped[1]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_pause_resume_and_replay_with_a_running_worker_node(page: Page, store: Store, probe: redis.Redis) -> None:
    key = "{" + store.prefix + "}:fault"  # under the prefix: deleted with the test's keys
    dead_id = store.dead(DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails"), "smtp down")
    admin = start_admin(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAULT_REDIS_URL": URL, "FAULT_KEY": key}
    node = WorkerProcess(
        ["--app", "tests.support.fault_app:registry", "--codec", "json", "--redis-url", URL,
         "--redis-prefix", store.prefix, "--poll", "50ms"],
        env,
    )  # fmt: skip
    try:
        sign_in(page, admin.url)
        expect(page.locator("#nodes tbody tr")).to_have_count(1, timeout=EXPECT_MS)
        expect(page.locator("[data-total=nodes]")).to_have_text("1")
        ready = page.locator("#queues tr[data-queue=emails] [data-cell=ready]")
        expect(ready).to_have_text("0")

        page.click("#queues tr[data-queue=emails] form[action='/pause'] button")
        expect(page.get_by_role("status")).to_have_text("Dequeue paused for queue emails.")
        expect(page.locator("#queues tr[data-queue=emails] [data-cell=state]")).to_have_text("paused")
        (waiting,) = store.enqueue("emails", 1)
        expect(ready).to_have_text("1", timeout=EXPECT_MS)  # arrives live, and stays: the node takes nothing
        assert ran(probe, key, QUIET) is None
        assert store.state(waiting) is DurableState.READY
        shot(page, "queue-paused")

        page.click("#queues tr[data-queue=emails] form[action='/resume'] button")
        assert (ran(probe, key, BOUND) or "").startswith(f"{waiting}:1:")
        expect(ready).to_have_text("0", timeout=EXPECT_MS)

        page.goto(f"{admin.url}/tasks/dead")
        page.check(f"input[name=id][value='{dead_id}']")
        page.click("button[value=replay]")
        page.click("form[action='/dlq/apply'] button[type=submit]")
        assert (ran(probe, key, BOUND) or "").startswith(f"{dead_id}:2:")  # replayed: the node ran its 2nd attempt
        assert row_ids(page) == []
        page.goto(f"{admin.url}/nodes")
        expect(page.locator("#nodes tbody tr td").nth(2)).to_have_text(str(node.process.pid))
        shot(page, "nodes")
    finally:
        assert node.stop() == 0
        assert admin.stop() == 0, "".join(admin.log)


def test_read_only_hides_and_refuses_every_action(page: Page, store: Store) -> None:
    dead_id = store.dead(DurableTask(handler="record", payload=b"{}", id=uuid.uuid4(), queue="emails"), "boom")
    app = ["--app", "tests.support.admin_app:registry", "--schedules", "tests.support.admin_app:schedules"]
    admin = start_admin(store, "--read-only", *app, "--codec", "json")
    try:
        sign_in(page, admin.url)
        expect(page.locator(".badge")).to_have_text("read-only")
        assert page.locator("form[action='/pause'], form[action='/resume']").count() == 0
        page.goto(f"{admin.url}/tasks/dead")
        assert row_ids(page) == [dead_id]
        assert page.locator("input[type=checkbox], button[value=replay], #replay-oldest").count() == 0
        shot(page, "read-only")
        page.goto(f"{admin.url}/queues")
        expect(page.locator("#queue-list tr[data-queue=emails]")).to_be_visible()
        assert page.locator("main form").count() == 0
        page.goto(f"{admin.url}/schedules")
        expect(page.locator("#registered tr[data-schedule=nightly-report]")).to_be_visible()
        assert page.locator("main form[method=post]").count() == 0

        token = page.locator("form[action='/logout'] input[name=csrf]").input_value()
        paths = ("/dlq/apply", "/dlq/confirm", "/dlq/confirm-oldest", "/pause", "/resume", "/queues/weight",
                 "/schedules/run", "/schedules/pause", "/schedules/resume")  # fmt: skip
        for path in paths:
            form: dict[str, str | float | bool] = {
                "csrf": token, "action": "replay", "id": dead_id, "count": 1, "queue": "emails", "weight": 3,
                "name": "nightly-report",
            }  # fmt: skip
            refused = page.request.post(f"{admin.url}{path}", form=form, max_redirects=0)
            assert refused.status == 403, path
        assert store.state(dead_id) is DurableState.DEAD
        assert store.backend(lambda backend: backend.stats()).paused is False
        assert store.backend(lambda backend: backend.queue_weights().weights()) == {}
        assert store.backend(lambda backend: backend.audit_log().events()) == []  # nothing was even tried
        page.goto(f"{admin.url}/")  # an open SSE stream must not hold the stop
        expect(page.locator("[data-field=live]")).to_contain_text("live", timeout=EXPECT_MS)
    finally:
        assert admin.stop() == 0, "".join(admin.log)
