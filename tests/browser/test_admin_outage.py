"""The admin page while its Redis goes away and comes back: it says so, answers 503, and goes live again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.admin_support import EXPECT_MS, Store, ThreadedAdmin, shot, sign_in
from tests.support.redis_servers import RedisServer, redis_available, start_redis_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if not redis_available():
        pytest.skip("redis-server not installed")
    server = start_redis_server(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def test_redis_down_is_shown_and_the_page_recovers(page: Page, private_redis: RedisServer) -> None:
    admin = ThreadedAdmin(Store("pyworker-admin-outage"), private_redis.url)
    try:
        sign_in(page, admin.url)
        live = page.locator("[data-field=live]")
        expect(live).to_contain_text("live ·", timeout=EXPECT_MS)

        private_redis.stop()
        expect(live).to_contain_text("not live: durable backend unavailable", timeout=EXPECT_MS)
        shot(page, "redis-down")
        down = page.request.get(f"{admin.url}/tasks/ready")
        assert down.status == 503
        assert "durable backend unavailable" in down.text()

        private_redis.start()
        expect(live).to_contain_text("live ·", timeout=EXPECT_MS)
        assert page.request.get(f"{admin.url}/tasks/ready").status == 200
    finally:
        admin.stop()
