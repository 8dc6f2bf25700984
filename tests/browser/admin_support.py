"""Helpers for the admin page's browser tests: a store of the test's own, an admin server in a thread, sign-in."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
from playwright.sync_api import Page

from pyworker.adapters.redis import RedisDurableBackend, new_redis_client
from pyworker.adapters.web import AdminWebConfig
from pyworker.domain import DurableState, DurableTask, DurableTaskRecord
from pyworker.entrypoints.admin import open_admin_data
from pyworker.entrypoints.admin_server import AdminServer, Listen
from pyworker.entrypoints.container import build_container

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
#: Where each test's screenshot goes: the docs' images when PYWORKER_SCREENSHOTS=docs (how
#: docs/admin.md's pictures are refreshed), else .cache/screenshots/ (every run, never committed).
SCREENSHOTS = (
    ROOT / "docs" / "images" / "admin"
    if os.environ.get("PYWORKER_SCREENSHOTS") == "docs"
    else ROOT / ".cache" / "screenshots" / "admin"
)
URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
#: Milliseconds any one browser expectation may take (a regression fails in seconds).
EXPECT_MS = 5000
BOUND = 10.0


def in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on an event loop of its own thread (Playwright's sync API owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result(timeout=60)  # type: ignore[arg-type]


@attrs.frozen
class Store:
    """The prefix a test owns on the shared Redis, and direct ways to seed and read it."""

    prefix: str

    def backend(self, action: Callable[[RedisDurableBackend], Awaitable[T]]) -> T:
        async def go() -> T:
            client = new_redis_client(URL)
            backend = RedisDurableBackend(client, prefix=self.prefix)
            try:
                return await action(backend)
            finally:
                await backend.close()
                await client.aclose()

        return in_thread(lambda: go())

    def enqueue(self, queue: str, count: int, handler: str = "record", payload: bytes = b"{}") -> list[str]:
        tasks = [DurableTask(handler=handler, payload=payload, id=uuid.uuid4(), queue=queue) for _ in range(count)]

        async def go(backend: RedisDurableBackend) -> None:
            for start in range(0, len(tasks), 500):
                results = await backend.enqueue_many(tasks[start : start + 500])
                assert not [r for r in results if isinstance(r, BaseException)], results

        self.backend(go)
        return [str(t.id) for t in tasks]

    def dead(self, task: DurableTask, error: str) -> str:
        """Store ``task`` and dead-letter it with ``error`` (as a worker's last failed attempt would)."""

        async def go(backend: RedisDurableBackend) -> None:
            await backend.enqueue(task)
            leases = await backend.dequeue(10, 30.0)
            (lease,) = [lease for lease in leases if lease.task.id == task.id]
            await backend.fail(lease, error)

        self.backend(go)
        return str(task.id)

    def get(self, task_id: str) -> DurableTaskRecord:
        return self.backend(lambda backend: backend.get(uuid.UUID(task_id)))

    def state(self, task_id: str) -> DurableState:
        return self.get(task_id).state


class ThreadedAdmin:
    """The real `workerctl admin` wiring (container, Redis backend, uvicorn) on 127.0.0.1:0 in a thread."""

    def __init__(self, store: Store, url: str = URL, wiring: Mapping[str, Any] | None = None,
                 **settings: object) -> None:  # fmt: skip
        """``wiring`` goes to ``open_admin_data`` (handlers, schedules, history_interval)."""
        self.url = ""
        self._wiring = dict(wiring or {})
        self._ready = threading.Event()
        self._server: AdminServer | None = None
        self._error: BaseException | None = None
        config = AdminWebConfig(password=PASSWORD, events_interval=0.2, **settings)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._run, args=(url, store.prefix, config), daemon=True)
        self._thread.start()
        assert self._ready.wait(BOUND), "the admin server did not start"
        if self._error is not None:
            raise self._error

    def _run(self, url: str, prefix: str, config: AdminWebConfig) -> None:
        async def go() -> None:
            async with open_admin_data(build_container(), url, prefix, **self._wiring) as data:
                self._server = AdminServer(data, config, Listen("127.0.0.1", 0))
                await self._server.run(self._started)

        try:
            asyncio.run(go())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def _started(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def stop(self) -> None:
        assert self._server is not None
        self._server.stop()
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the admin server did not stop"
        if self._error is not None:
            raise self._error


def sign_in(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/", timeout=EXPECT_MS)


def shot(page: Page, name: str) -> None:
    """Save what the browser shows as SCREENSHOTS/<name>.png (docs/admin.md shows the docs' copies)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def row_ids(page: Page) -> Sequence[str]:
    return [str(value) for value in page.locator("#tasks tbody tr[data-task]").evaluate_all(
        "rows => rows.map(r => r.dataset.task)"
    )]  # fmt: skip
