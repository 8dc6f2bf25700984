"""The admin page and its JSON gateway on 127.0.0.1:0 in a thread, over a test's own prefix, with a schedule."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx

from pyworker.adapters.redis import RedisDurableBackend, RedisKeys, new_redis_client
from pyworker.adapters.web import AdminPageData, AdminWebConfig
from pyworker.adapters.web.gateway import GatewaySettings
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.application.admin import AdminGuardrails, AdminService, DurableAdmin
from pyworker.application.schedules import Tick
from pyworker.domain import DurableTask, TaskContext
from pyworker.entrypoints.admin_server import AdminServer, Listen
from pyworker.protos.worker.v1 import payload_pb2

URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
TOKEN = "gateway-token-123"
BOUND = 10.0
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def nightly(_tick: Tick) -> DurableTask:
    return DurableTask(handler="send_email", payload=payload_pb2.SendEmailPayload(to="ops").SerializeToString(),
                       queue="reports")  # fmt: skip


async def _send(_ctx: TaskContext, message: payload_pb2.SendEmailPayload) -> str:
    return f"sent to {message.to}"


async def delete_prefix(client: Any, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=RedisKeys(prefix).pattern)]
    if keys:
        await client.delete(*keys)


class GatewayServer:
    """``AdminServer`` (page and gateway) in a thread with its own loop; the AdminService has the
    schedules of a TaskManager that is never started (nothing leases a task)."""

    def __init__(
        self, prefix: str, *, guardrails: AdminGuardrails | None = None, read_only: bool = False,
        events_interval: float = 0.3,
    ) -> None:  # fmt: skip
        self.prefix = prefix
        self.url = ""
        self._ready = threading.Event()
        self._server: AdminServer | None = None
        self._error: BaseException | None = None
        config = AdminWebConfig(password=PASSWORD, token=TOKEN, read_only=read_only)
        settings = GatewaySettings(events_interval=events_interval)
        self._thread = threading.Thread(target=self._run, args=(config, settings, guardrails), daemon=True)
        self._thread.start()
        assert self._ready.wait(BOUND), "the admin gateway did not start"
        if self._error is not None:
            raise self._error

    def _run(self, config: AdminWebConfig, settings: GatewaySettings, guardrails: AdminGuardrails | None) -> None:
        async def go() -> None:
            client = new_redis_client(URL)
            backend = RedisDurableBackend(client, prefix=self.prefix)
            durable = {"send_email": DurableHandlerSpec(make=payload_pb2.SendEmailPayload, fn=_send)}
            manager = TaskManager(durable_backend=backend, durable_handlers=durable)
            manager.register_durable_cron_task("nightly", "0 3 * * *", nightly)
            nodes = backend.node_registry()
            service = AdminService(backend, backend.queue_weights(), backend.audit_log(), schedules=manager.schedules,
                                   nodes=nodes, guardrails=guardrails)  # fmt: skip
            data = AdminPageData(service, DurableAdmin(backend), nodes)
            try:
                self._server = AdminServer(data, config, Listen("127.0.0.1", 0), admin=service, gateway=settings)
                await self._server.run(self._started)
            finally:
                await manager.stop_now()
                await backend.close()
                await client.aclose()

        try:
            asyncio.run(go())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def _started(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def client(self, **headers: str) -> httpx.AsyncClient:
        """A client for ``/admin/v1`` with the bearer token (pass ``Authorization=""`` for none)."""
        sent = {"Authorization": f"Bearer {TOKEN}", **headers}
        sent = {k.replace("_", "-"): v for k, v in sent.items() if v}
        return httpx.AsyncClient(base_url=f"{self.url}/admin/v1", headers=sent, timeout=BOUND)

    async def session(self) -> tuple[httpx.AsyncClient, str]:
        """A client signed in through the page's form (a session cookie, no bearer), and its CSRF token."""
        client = httpx.AsyncClient(base_url=self.url, timeout=BOUND)
        form = await client.get("/login")
        match = _CSRF.search(form.text)
        assert match, form.text
        signed = await client.post("/login", data={"password": PASSWORD, "csrf": match.group(1), "next": "/"})
        assert signed.status_code == 303, signed.text
        page = await client.get("/")
        token = _CSRF.search(page.text)
        assert token, page.text
        return client, token.group(1)

    def stop(self) -> None:
        assert self._server is not None
        self._server.stop()
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the admin gateway did not stop"
        if self._error is not None:
            raise self._error


def new_prefix() -> str:
    return f"pyworker-test-gateway-{uuid.uuid4().hex}"


@attrs.define
class Served:
    server: GatewayServer
    backend: RedisDurableBackend
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def served(**options: Any) -> AsyncIterator[Served]:
    prefix = new_prefix()
    client = new_redis_client(URL)
    backend = RedisDurableBackend(client, prefix=prefix)
    server = GatewayServer(prefix, **options)
    try:
        async with server.client() as http:
            yield Served(server, backend, http)
    finally:
        server.stop()
        await delete_prefix(client, prefix)
        await backend.close()
        await client.aclose()
