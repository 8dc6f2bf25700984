"""How `workerctl durable` reaches Redis: the connection flags, their env vars, and the admin service over them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import attrs
import click
from dependency_injector import providers
from redis.asyncio.cluster import RedisCluster

from pyworker.application.admin import DurableAdmin
from pyworker.application.ports import DurableBackend
from pyworker.domain import BackendUnavailableError
from pyworker.entrypoints.container import Application, configure, shutdown
from pyworker.entrypoints.durations import DURATION, format_duration
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL, redact_url, validate_redis_url
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0

#: Flag -> environment variable (docs/workerctl.md "Connection").
ENV_VARS = {
    "redis_url": "PYWORKER_REDIS_URL",
    "redis_addr": "PYWORKER_REDIS_ADDR",
    "redis_password": "PYWORKER_REDIS_PASSWORD",
    "redis_prefix": "PYWORKER_REDIS_PREFIX",
    "tls": "PYWORKER_REDIS_TLS",
    "tls_insecure": "PYWORKER_REDIS_TLS_INSECURE",
    "timeout": "PYWORKER_REDIS_TIMEOUT",
    "cluster": "PYWORKER_REDIS_CLUSTER",
}


@attrs.frozen
class Connection:
    """Where the durable store is: a Redis URL (it may hold a password: show ``shown``), a prefix, a timeout."""

    url: str = DEFAULT_REDIS_URL
    prefix: str = DEFAULT_REDIS_PREFIX
    timeout: float = DEFAULT_TIMEOUT
    cluster: bool = False

    @property
    def shown(self) -> str:
        return redact_url(self.url)

    @property
    def client_url(self) -> str:
        """``url`` with the connect timeout, unless the URL sets its own."""
        parts = urllib.parse.urlsplit(self.url)
        if "socket_connect_timeout" in urllib.parse.parse_qs(parts.query):
            return self.url
        query = "&".join(filter(None, [parts.query, f"socket_connect_timeout={self.timeout:g}"]))
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

    def bound(self) -> asyncio.Timeout:
        """A timeout scope of ``timeout`` seconds for one call (TimeoutError when it runs out)."""
        return asyncio.timeout(self.timeout)


def build_redis_url(url: str | None, addr: str | None, password: str | None, tls: bool, tls_insecure: bool) -> str:
    """The URL the flags describe: ``--redis-url``, or one built from ``--redis-addr``; then the
    password and TLS laid over it.

    Raises:
        click.UsageError: both --redis-url and --redis-addr, or a URL redis-py refuses.
    """
    if url and addr:
        raise click.UsageError("use only one of --redis-url or --redis-addr")
    if addr:
        host, sep, port = addr.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise click.UsageError(f"--redis-addr must be host:port, got {addr!r}")
        url = f"redis://{addr.strip()}/0"
    parts = urllib.parse.urlsplit(url or DEFAULT_REDIS_URL)
    scheme, netloc = parts.scheme, parts.netloc
    if tls or tls_insecure:
        if scheme == "unix":
            raise click.UsageError("--tls needs a TCP address, not a unix:// URL")
        scheme = "rediss"
    if password:
        host = netloc.rpartition("@")[2]
        user = parts.username or ""
        netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{host}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if tls_insecure:
        query += [("ssl_cert_reqs", "none"), ("ssl_check_hostname", "false")]
    built = urllib.parse.urlunsplit((scheme, netloc, parts.path, urllib.parse.urlencode(query), parts.fragment))
    try:
        return validate_redis_url(built)
    except Exception as exc:  # ConfigurationError: its message never shows the password
        raise click.UsageError(str(exc)) from exc


def connection_options(command: F) -> F:
    """The connection flags of every `workerctl durable` command (go-worker's, plus --redis-url)."""
    options = [
        click.option("--redis-url", envvar=ENV_VARS["redis_url"], default=None, metavar="URL",
                     help=f"redis://, rediss:// (TLS) or unix:// URL  [default: {DEFAULT_REDIS_URL}]"),
        click.option("--redis-addr", envvar=ENV_VARS["redis_addr"], default=None, metavar="HOST:PORT",
                     help="Redis host:port (go-worker's flag; instead of --redis-url)."),
        click.option("--redis-password", envvar=ENV_VARS["redis_password"], default=None, metavar="PASSWORD",
                     help="Redis password (never printed)."),
        click.option("--redis-prefix", envvar=ENV_VARS["redis_prefix"], default=DEFAULT_REDIS_PREFIX,
                     show_default=True, help="Key prefix (wrapped as {prefix})."),
        click.option("--tls", envvar=ENV_VARS["tls"], is_flag=True, help="Use TLS (rediss://)."),
        click.option("--tls-insecure", envvar=ENV_VARS["tls_insecure"], is_flag=True,
                     help="TLS without certificate verification."),
        click.option("--timeout", envvar=ENV_VARS["timeout"], type=DURATION, default="5s", show_default=True,
                     help="Per-command Redis timeout (<= 0: 5s; per refresh with --watch)."),
        click.option("--cluster", envvar=ENV_VARS["cluster"], is_flag=True,
                     help="The address is a Redis Cluster node (the client follows the cluster)."),
    ]

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        redis_url: str | None,
        redis_addr: str | None,
        redis_password: str | None,
        redis_prefix: str,
        tls: bool,
        tls_insecure: bool,
        timeout: float,
        cluster: bool,
        **kwargs: Any,
    ) -> Any:
        timeout = timeout if timeout > 0 else DEFAULT_TIMEOUT
        url = build_redis_url(redis_url, redis_addr, redis_password, tls, tls_insecure)
        connection = Connection(url, redis_prefix or DEFAULT_REDIS_PREFIX, timeout, cluster)
        return command(*args, connection=connection, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]



@contextlib.asynccontextmanager
async def open_backend(container: Application, connection: Connection) -> AsyncIterator[DurableBackend]:
    """The container's Redis durable backend for ``connection``; its resources closed on exit."""
    settings = {"kind": "redis", "redis_url": connection.client_url, "redis_prefix": connection.prefix}
    configure(container, backend=settings)
    if connection.cluster:
        container.backends.redis_client.override(providers.Resource(cluster_client, connection.client_url))
    try:
        backend: DurableBackend = await container.backends.durable_backend()
        yield backend
    finally:
        await shutdown(container)


async def cluster_client(url: str) -> AsyncIterator[RedisCluster]:
    """A Redis Cluster client from a node's URL (bytes replies), closed when the container shuts down."""
    client = RedisCluster.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


def run(container: Application, connection: Connection, action: Callable[[DurableAdmin], Awaitable[T]]) -> T:
    """Run ``action(admin)`` on the store within ``connection.timeout``."""
    return run_backend(container, connection, lambda backend: action(DurableAdmin(backend)))


def run_backend(
    container: Application,
    connection: Connection,
    action: Callable[[DurableBackend], Awaitable[T]],
    *,
    bounded: bool = True,
) -> T:
    """Run ``action(backend)``, within ``connection.timeout`` when ``bounded`` (a command
    that runs until interrupted bounds each of its calls with ``connection.bound()``).

    Raises:
        BackendUnavailableError: Redis did not answer in time or refused; the message
            names the URL, its password redacted.
    """

    async def go() -> T:
        async with open_backend(container, connection) as backend:
            try:
                if not bounded:
                    return await action(backend)
                async with connection.bound():
                    return await action(backend)
            except TimeoutError as exc:
                raise BackendUnavailableError(
                    reason=f"{connection.shown}: no answer within {format_duration(connection.timeout)}"
                ) from exc
            except BackendUnavailableError as exc:
                raise BackendUnavailableError(reason=f"{connection.shown}: {exc.reason}") from exc

    return asyncio.run(go())
