"""`workerctl durable nodes`: the live worker nodes of a durable store (docs/cluster.md#nodes)."""

from __future__ import annotations

from typing import Any

import click

from pyworker.application.ports import DurableBackend, NodeRegistryProvider
from pyworker.domain import NodeInfo
from pyworker.entrypoints.container import Application
from pyworker.entrypoints.durable_cli.connection import Connection, connection_options, run_backend
from pyworker.entrypoints.durable_cli.render import json_line, rfc3339
from pyworker.entrypoints.durations import format_duration


def node_json(node: NodeInfo) -> dict[str, Any]:
    """One node as a JSON line: its report, times as RFC 3339 UTC, the TTL in seconds."""
    return {
        "node_id": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "version": node.version,
        "queues": list(node.queues),
        "concurrency": node.concurrency,
        "running": node.running,
        "started_at": rfc3339(node.started_at),
        "last_seen": rfc3339(node.last_seen),
        "ttl": node.ttl,
    }


def age(now: float, then: float) -> str:
    """How long ago ``then`` was, to the second, in Go's duration form (``1h2m3s``)."""
    return format_duration(max(0, round(now - then)))


def print_table(nodes: list[NodeInfo], now: float) -> None:
    """A rich table: the node id (host-pid-random by default), what it serves, how busy it is, since when."""
    from rich.console import Console
    from rich.table import Table

    click.echo(f"live nodes: {len(nodes)}")
    if not nodes:
        return
    grid = Table()
    for column in ("node", "version", "queues", "running", "up", "last beat"):
        grid.add_column(column, justify="left" if column in ("node", "version", "queues") else "right")
    for node in nodes:
        grid.add_row(
            node.node_id, node.version, ",".join(node.queues) or "all", f"{node.running}/{node.concurrency}",
            age(now, node.started_at), age(now, node.last_seen) + " ago",
        )  # fmt: skip
    Console().print(grid)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON line per node instead of a table.")
@connection_options
@click.pass_obj
def nodes(container: Application, connection: Connection, as_json: bool) -> None:
    """The live worker nodes: what each reported on its last heartbeat."""

    async def action(backend: DurableBackend) -> list[NodeInfo]:
        assert isinstance(backend, NodeRegistryProvider)  # the Redis backend always is one
        return await backend.node_registry().list_nodes()

    found = run_backend(container, connection, action)
    if as_json:
        for node in found:
            click.echo(json_line(node_json(node)))
        return
    print_table(found, container.core.clock().now())
