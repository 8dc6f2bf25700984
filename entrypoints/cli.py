"""workerctl: the operator's command line (demo, worker nodes, durable queue tools)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

import pyworker
from pyworker.domain import WorkerError
from pyworker.entrypoints.container import Application, build_container
from pyworker.entrypoints.errors import EXIT_INTERNAL, CliError, exit_code_for, one_line

logger = logging.getLogger("pyworker.cli")


class WorkerctlGroup(click.Group):
    """Maps library errors to exit codes in one place (entrypoints.errors)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except WorkerError as exc:
            raise CliError(str(exc), exit_code_for(exc)) from exc
        except Exception as exc:
            logger.exception("workerctl: internal error")
            raise CliError(f"internal error: {exc}", EXIT_INTERNAL) from exc


@click.group(cls=WorkerctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(pyworker.__version__, "--version", prog_name="workerctl", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """pyworker's operator tool."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The commands find the container in ctx.obj and overlay their flags (container.configure).
    if ctx.obj is None:
        ctx.obj = build_container()


def _register_commands() -> None:
    from pyworker.entrypoints.demo import demo
    from pyworker.entrypoints.durable_cli import durable
    from pyworker.entrypoints.durable_cli.shell import completion, version
    from pyworker.entrypoints.serve import serve
    from pyworker.entrypoints.worker import worker

    cli.add_command(demo)
    cli.add_command(durable)
    cli.add_command(completion)
    cli.add_command(version)
    cli.add_command(serve)
    cli.add_command(worker)


def main(argv: Sequence[str] | None = None, container: Application | None = None) -> int:
    """Run workerctl; returns the exit code instead of exiting (for tests).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        container: the container the commands use (default: a fresh ``build_container()``);
            tests pass one with a provider overridden.
    """
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name="workerctl", standalone_mode=False, obj=container
        )
    except click.UsageError as exc:  # one line, not click's usage block
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"workerctl: {one_line(exc.format_message())}{hint}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("workerctl: aborted", err=True)
        return 130
    # In non-standalone mode click returns ctx.exit(n)'s code instead of raising.
    return code if isinstance(code, int) else 0


_register_commands()


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
