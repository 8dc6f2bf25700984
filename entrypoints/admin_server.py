"""The admin page's HTTP server: where it listens, its TLS files, and uvicorn on the caller's loop (docs/admin.md)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from pyworker.application.admin import AdminService
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_USAGE, CliError

if TYPE_CHECKING:
    import uvicorn

    from pyworker.adapters.web import AdminPageData, AdminWebConfig
    from pyworker.adapters.web.gateway import GatewaySettings

#: Seconds the server waits for requests still running when it stops (SSE streams end at once).
GRACE = 3


@attrs.frozen
class Listen:
    """Where the page listens, and its TLS files (both or neither)."""

    host: str
    port: int
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port if port is None else port}"


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (port 0: any free port). Raises CliError (exit 2)."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise CliError(f"--listen must be host:port, got {value!r}", EXIT_USAGE)
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(cert: str, key: str) -> None:
    """Load the pair once before anything connects: a bad file is a one-line usage error. Raises CliError."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise CliError(f"cannot load --tls-cert/--tls-key: {exc}", EXIT_USAGE) from exc



class AdminServer:
    """The admin page on uvicorn, on the caller's event loop, until ``stop()`` (or SIGTERM/SIGINT
    when it runs on the main thread). ``stop`` may be called from any thread."""

    def __init__(
        self, data: AdminPageData, settings: AdminWebConfig, listen: Listen, admin: AdminService | None = None,
        gateway: GatewaySettings | None = None,
    ) -> None:  # fmt: skip
        import uvicorn

        from pyworker.adapters.web import close_streams, create_app

        self.listen = listen
        self.app = create_app(settings, data, admin if admin is not None else data.service, gateway)
        app = self.app

        announce = self._announce

        class Server(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets)
                if self.started:
                    announce()

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # AdminServer.run handles them (exit 0, not -15)
                yield

            async def shutdown(self, sockets: Any = None) -> None:
                close_streams(app)  # the SSE streams end now instead of holding the shutdown
                await super().shutdown(sockets)

        config = uvicorn.Config(
            self.app, host=listen.host, port=listen.port, ssl_certfile=listen.tls_cert, ssl_keyfile=listen.tls_key,
            log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=GRACE,
            server_header=False,
        )  # fmt: skip
        try:
            config.load()  # the TLS files are read here: a bad one is a usage error, not a traceback
        except (ssl.SSLError, OSError) as exc:
            raise CliError(f"cannot load --tls-cert/--tls-key: {exc}", EXIT_USAGE) from exc
        self._server: uvicorn.Server = Server(config)
        self._ready: Callable[[str], None] | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose for port 0), once started."""
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    async def run(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until stopped; ``ready(url)`` is called once the socket listens."""
        self._ready = ready
        loop = asyncio.get_running_loop()
        on_main = threading.current_thread() is threading.main_thread()
        if on_main:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        try:
            await self._server.serve()
        finally:
            if on_main:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        if not self._server.started:
            raise CliError(f"cannot listen on {self.listen.url()}", EXIT_ERROR)

    def _announce(self) -> None:
        if self._ready is not None:
            self._ready(self.listen.url(self.port))

    def stop(self) -> None:
        self._server.should_exit = True


