"""The CLI's error table row by row, and what main() prints for each kind of failure."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import click
import pytest

from pyworker.domain import (
    BackendUnavailableError,
    ConfigurationError,
    DurableLeaseNotFoundError,
    DurableModeError,
    FacadeClosedError,
    InvalidTaskError,
    QueueFullError,
    TaskNotFoundError,
    WorkerError,
)
from pyworker.entrypoints.cli import cli, main
from pyworker.entrypoints.errors import (
    ERROR_EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    exit_code_for,
    one_line,
)

TASK_ID = uuid.UUID("11111111-2222-3333-4444-555555555555")

#: One case per row of ERROR_EXIT_CODES, in the table's order.
ROWS: list[tuple[WorkerError, int]] = [
    (BackendUnavailableError(reason="connection refused"), EXIT_UNAVAILABLE),
    (ConfigurationError(reason="bad setting"), EXIT_USAGE),
    (InvalidTaskError(reason="no function"), EXIT_USAGE),
    (TaskNotFoundError(task_id=TASK_ID), EXIT_ERROR),
    (DurableLeaseNotFoundError(task_id=TASK_ID), EXIT_ERROR),
    (WorkerError(), EXIT_ERROR),
]


def test_every_row_has_a_case() -> None:
    assert [type(error) for error, _ in ROWS] == [error_type for error_type, _ in ERROR_EXIT_CODES]


@pytest.mark.parametrize(("error", "code"), ROWS, ids=lambda v: type(v).__name__)
def test_row(error: WorkerError, code: int) -> None:
    assert exit_code_for(error) == code
    assert dict(ERROR_EXIT_CODES)[type(error)] == code


@pytest.mark.parametrize(
    "error", [QueueFullError(max_tasks=1), DurableModeError(reason="x"), FacadeClosedError()], ids=type
)
def test_other_worker_errors_are_command_errors(error: WorkerError) -> None:
    assert exit_code_for(error) == EXIT_ERROR


@pytest.mark.parametrize("error", [RuntimeError("bug"), KeyError("k"), ConnectionError("not ours")], ids=type)
def test_unknown_exceptions_are_internal(error: Exception) -> None:
    assert exit_code_for(error) == EXIT_INTERNAL


def test_one_line_joins_lines() -> None:
    assert one_line("first\n  second\n\n") == "first; second"


@pytest.fixture
def raising_command() -> Iterator[Callable[[BaseException], None]]:
    """Adds a `workerctl boom` command that raises what the test sets; removed afterwards."""
    raised: list[BaseException] = []

    @click.command("boom")
    def boom() -> None:
        raise raised[0]

    cli.add_command(boom)
    try:
        yield raised.append
    finally:
        cli.commands.pop("boom", None)


@pytest.mark.parametrize(("error", "code"), ROWS, ids=lambda v: type(v).__name__)
def test_main_prints_one_line_and_exits_with_the_rows_code(
    raising_command: Callable[[BaseException], None],
    error: WorkerError,
    code: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raising_command(error)
    assert main(["boom"]) == code
    assert capsys.readouterr().err == f"workerctl: {error}\n"


def test_main_logs_the_traceback_of_an_unknown_exception(
    raising_command: Callable[[BaseException], None],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    raising_command(RuntimeError("a bug"))
    with caplog.at_level(logging.ERROR, logger="pyworker.cli"):
        assert main(["boom"]) == EXIT_INTERNAL
    (record,) = [r for r in caplog.records if r.name == "pyworker.cli"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert capsys.readouterr().err.endswith("workerctl: internal error: a bug\n")


def test_a_multi_line_reason_stays_on_one_line(
    raising_command: Callable[[BaseException], None], capsys: pytest.CaptureFixture[str]
) -> None:
    raising_command(BackendUnavailableError(reason="first line\nsecond line"))
    assert main(["boom"]) == EXIT_UNAVAILABLE
    assert capsys.readouterr().err == "workerctl: durable backend unavailable: first line; second line\n"
