"""Throwaway redis-server processes on loopback ports, and a 3-node Redis Cluster, for tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import redis

HOST = "127.0.0.1"
#: Redis Cluster's bus listens on the client port + 10000.
CLUSTER_BUS_OFFSET = 10000
START_TIMEOUT = 15.0


def redis_available() -> bool:
    """Whether redis-server and redis-cli are on PATH."""
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(cluster_bus: bool = False) -> int:
    """A loopback port nothing listens on (and, for a cluster node, its bus port too)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if not cluster_bus or (port + CLUSTER_BUS_OFFSET < 65536 and _bindable(port + CLUSTER_BUS_OFFSET)):
            return port
    raise RuntimeError("no free loopback port found")


def _wait(condition: str, check: object, timeout: float = START_TIMEOUT) -> None:
    """Poll ``check()`` until true: an external process gives no event to wait on."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {condition}")
        time.sleep(0.02)


@attrs.define
class RedisServer:
    """One redis-server process on 127.0.0.1:``port`` with its files in ``directory``."""

    directory: Path
    port: int
    appendonly: bool = False
    appendfsync: str = "everysec"
    cluster: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def command(self) -> list[str]:
        args = [
            "redis-server", "--bind", HOST, "--port", str(self.port), "--dir", str(self.directory),
            "--save", "", "--daemonize", "no", "--logfile", "redis.log",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", self.appendfsync,
        ]  # fmt: skip
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000"]  # fmt: skip
        return args

    def start(self) -> RedisServer:
        """Start the process (same port and directory on a restart) and wait for PING."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(), cwd=self.directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(host=HOST, port=self.port, socket_timeout=1.0)
        try:
            _wait(f"redis-server on port {self.port}", lambda: self._alive() and client.ping())
        finally:
            client.close()
        return self

    def stop(self) -> None:
        """SIGTERM (Redis flushes its AOF and exits), then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.directory}")
        return True


def start_redis_server(
    directory: Path, *, port: int | None = None, appendonly: bool = False, appendfsync: str = "everysec",
    cluster: bool = False,
) -> RedisServer:  # fmt: skip
    """Start a throwaway redis-server; the caller must ``stop()`` it (use a fixture finalizer)."""
    chosen = port if port is not None else free_port(cluster_bus=cluster)
    server = RedisServer(directory, chosen, appendonly, appendfsync, cluster)
    return server.start()


def create_cluster(nodes: Sequence[RedisServer]) -> None:
    """Join cluster-enabled nodes into one cluster (no replicas) and wait for cluster_state:ok."""
    addresses = [f"{HOST}:{node.port}" for node in nodes]
    subprocess.run(
        ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    for node in nodes:
        client = redis.Redis(host=HOST, port=node.port, socket_timeout=1.0)
        try:
            _wait(f"cluster_state:ok on {node.port}", lambda c=client: _cluster_ok(c))
        finally:
            client.close()


def _cluster_ok(client: redis.Redis) -> bool:
    info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]  # unannotated in redis-py
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


@contextlib.contextmanager
def redis_cluster(directory: Path, size: int = 3) -> Iterator[list[RedisServer]]:
    """A running cluster of ``size`` nodes; every node is stopped on exit, whatever happened."""
    nodes: list[RedisServer] = []
    try:
        for index in range(size):
            nodes.append(start_redis_server(directory / f"node{index}", cluster=True))
        create_cluster(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
