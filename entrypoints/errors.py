"""The CLI's one error table: exception type -> exit code, shown as one line on stderr."""

from __future__ import annotations

from typing import IO, Any

import click

from pyworker.domain import (
    BackendUnavailableError,
    ConfigurationError,
    DurableLeaseNotFoundError,
    InvalidTaskError,
    TaskNotFoundError,
    WorkerError,
)

EXIT_OK = 0
EXIT_ERROR = 1  # a command failed (go-worker's workerctl exits 1 on every error)
EXIT_USAGE = 2  # bad flags or arguments (click's own code)
EXIT_UNAVAILABLE = 3  # the backend could not be reached
EXIT_INTERNAL = 70  # a bug: logged with its traceback

#: Most specific first; an exception that matches no row is a bug (EXIT_INTERNAL).
ERROR_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (BackendUnavailableError, EXIT_UNAVAILABLE),
    (ConfigurationError, EXIT_USAGE),
    (InvalidTaskError, EXIT_USAGE),
    (TaskNotFoundError, EXIT_ERROR),
    (DurableLeaseNotFoundError, EXIT_ERROR),
    (WorkerError, EXIT_ERROR),
)


def exit_code_for(error: BaseException) -> int:
    for error_type, code in ERROR_EXIT_CODES:
        if isinstance(error, error_type):
            return code
    return EXIT_INTERNAL


def one_line(text: str) -> str:
    """``text`` on one line: a multi-line message (a server's error text) joined with "; "."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


class CliError(click.ClickException):
    """A user-facing failure: ``workerctl: <message>`` on one line of stderr, and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"workerctl: {one_line(self.format_message())}", err=True)
