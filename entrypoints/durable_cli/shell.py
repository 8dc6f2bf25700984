"""`workerctl completion bash|zsh|fish` and `workerctl version`."""

from __future__ import annotations

import platform
import sys

import click
from click.shell_completion import get_completion_class

import pyworker

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", metavar="bash|zsh|fish")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script, e.g. `eval "$(workerctl completion zsh)"`."""
    name = shell.strip().lower()
    script_class = get_completion_class(name) if name in SHELLS else None
    if script_class is None:
        raise click.UsageError(f'unsupported shell "{shell}" (one of {", ".join(SHELLS)})')
    root = ctx.find_root()
    script = script_class(root.command, {}, "workerctl", "_WORKERCTL_COMPLETE")
    click.echo(script.source())


@click.command()
def version() -> None:
    """Print the version, Python and platform."""
    click.echo(
        f"workerctl {pyworker.__version__} (python={platform.python_version()}, "
        f"os={sys.platform}/{platform.machine() or 'unknown'})"
    )
