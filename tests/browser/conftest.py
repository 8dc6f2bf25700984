"""Fixtures of the browser tests: one headless Chromium per module, a fresh context and store per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, sync_playwright

from pyworker.adapters.redis import RedisKeys
from tests.browser.admin_support import Store, ThreadedAdmin

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Playwright driving Debian's Chromium (`.ci/run` installs it); skips where it is missing."""
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context (no cookies), 1100x720."""
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def store() -> Iterator[Store]:
    """A key prefix of the test's own on the shared Redis; only its keys are deleted afterwards."""
    probe = redis.Redis(host="127.0.0.1", port=6379)
    try:
        probe.ping()
    except (redis.ConnectionError, OSError):
        probe.close()
        pytest.skip("no Redis server on 127.0.0.1:6379")
    prefix = f"pyworker-admin-{uuid.uuid4().hex}"
    try:
        yield Store(prefix)
    finally:
        keys = list(probe.scan_iter(match=RedisKeys(prefix).pattern, count=1000))
        if keys:
            probe.delete(*keys)
        probe.close()


@pytest.fixture
def admin(store: Store) -> Iterator[ThreadedAdmin]:
    """The admin page on the test's store, signed in with admin_support.PASSWORD."""
    server = ThreadedAdmin(store)
    try:
        yield server
    finally:
        server.stop()
