"""workerctl worker: a durable worker node (placeholder)."""

from __future__ import annotations

import click


@click.command()
def worker() -> None:
    """Run a durable worker node."""
    click.echo("worker: not written yet")
