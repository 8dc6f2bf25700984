"""workerctl: the operator's command line (demo, worker nodes, durable queue tools)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

import pyworker
from pyworker.domain import WorkerError
from pyworker.entrypoints.errors import EXIT_INTERNAL, CliError, exit_code_for, one_line

if TYPE_CHECKING:
    from pyworker.entrypoints.container import Application

logger = logging.getLogger("pyworker.cli")

#: command name -> "module:attribute". A command's module is imported only when that
#: command is looked up (it runs, or --help / completion lists it), so `workerctl worker`
#: never pays for gRPC, OpenTelemetry or rich (docs/adr/0017-lazy-workerctl-commands.md).
COMMANDS = {
    "admin": "pyworker.entrypoints.admin:admin",
    "completion": "pyworker.entrypoints.durable_cli.shell:completion",
    "demo": "pyworker.entrypoints.demo:demo",
    "durable": "pyworker.entrypoints.durable_cli:durable",
    "serve": "pyworker.entrypoints.serve:serve",
    "version": "pyworker.entrypoints.durable_cli.shell:version",
    "worker": "pyworker.entrypoints.worker:worker",
}


class _HideModules(importlib.abc.MetaPathFinder):
    """Makes some top-level packages look absent (see ``import_worker_libraries``)."""

    def __init__(self, hidden: tuple[str, ...]) -> None:
        self.hidden = hidden

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec:
        if fullname.partition(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"{fullname} is not loaded for this library in a worker", name=fullname)
        return None  # type: ignore[return-value]  # "not mine": the next finder looks


#: library -> the optional packages it imports whenever they are installed, which a worker never uses.
#: redis-py 8 loads the OpenTelemetry SDK for its own opt-in metrics (pyworker never turns them on);
#: dependency-injector loads PyYAML and pydantic for Configuration.from_yaml / from_pydantic.
_WORKER_LIBRARIES = {
    "redis.asyncio": ("opentelemetry",),
    "dependency_injector.containers": ("yaml", "pydantic", "pydantic_settings"),
}


def import_worker_libraries() -> None:
    """Import a worker's libraries with their unused optional packages hidden, before anything
    else imports them (docs/adr/0017-lazy-workerctl-commands.md).

    Only these libraries' own imports are affected, and only when neither the library nor
    the hidden packages are loaded yet: pyworker's telemetry and the user's app import
    OpenTelemetry, PyYAML or pydantic normally afterwards.
    """
    for library, hidden in _WORKER_LIBRARIES.items():
        if library.partition(".")[0] in sys.modules or any(name in sys.modules for name in hidden):
            continue
        finder = _HideModules(hidden)
        sys.meta_path.insert(0, finder)
        try:
            importlib.import_module(library)
        finally:
            sys.meta_path.remove(finder)


class WorkerctlGroup(click.Group):
    """Loads each command on first lookup (``COMMANDS``) and maps library errors to exit
    codes in one place (entrypoints.errors)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            module_name, _, attribute = COMMANDS[cmd_name].partition(":")
            if cmd_name == "worker":
                import_worker_libraries()
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command), COMMANDS[cmd_name]
            self.add_command(command, cmd_name)
        return command

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
        from pyworker.entrypoints.container import build_container  # not for --help / --version

        ctx.obj = build_container()


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


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
