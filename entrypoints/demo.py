"""workerctl demo: the first thing a newcomer runs (placeholder until the demo lands)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Run the in-memory demo."""
    click.echo("demo: not written yet")
