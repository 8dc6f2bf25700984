"""`workerctl worker --schedules`: a bad setup is one line on stderr and exit 2, before any work."""

from __future__ import annotations

import pytest

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_USAGE

APP = ["worker", "--app", "tests.support.schedule_app:registry", "--backend", "memory", "--codec", "json"]


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        ("tests.support.schedule_app:bad_spec", "--schedules tests.support.schedule_app:bad_spec: invalid schedule"),
        ("tests.support.schedule_app:NOT_CALLABLE", "is not a callable that takes the TaskManager"),
        ("tests.support.schedule_app:missing", "has no attribute 'missing'"),
        ("tests.support.no_such_module:setup", "cannot import 'tests.support.no_such_module'"),
        ("no-colon", "--schedules must be module:attribute"),
    ],
)
def test_a_bad_schedules_flag_is_a_usage_error(
    schedules: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*APP, "--schedules", schedules])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.count("\n") == 1, err
    assert err.startswith("workerctl: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["history", "two words"], ["pause", "", "--apply"]])
def test_durable_schedules_refuse_a_bad_name_before_connecting(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 answers nothing: the name is checked first, so the error is the name's.
    code = main(["durable", "schedules", *command, "--redis-url", "redis://127.0.0.1:1/0"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("workerctl: invalid schedule name"), err
    assert err.count("\n") == 1
