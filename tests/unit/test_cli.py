"""workerctl's flags through main(argv): one-line usage errors, Redis URLs."""

from __future__ import annotations

import pytest

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_USAGE

APP = ["worker", "--app", "tests.support.fault_app:registry"]


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workerctl: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "url", ["notaurl", "http://127.0.0.1:6379/0", "127.0.0.1:6379", "redis://127.0.0.1:port/0", "redis://[::1"]
)
def test_a_bad_redis_url_is_a_one_line_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*APP, "--redis-url", url]) == EXIT_USAGE
    line = one_error_line(capsys.readouterr().err)
    assert "--redis-url" in line


def test_a_bad_redis_url_from_the_environment_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYWORKER_REDIS_URL", "http://127.0.0.1/0")
    assert main(APP) == EXIT_USAGE
    one_error_line(capsys.readouterr().err)


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker"]) == EXIT_USAGE
    assert "--app" in one_error_line(capsys.readouterr().err)
    assert main(["worker", "--app", "no_such_module_here:registry"]) == EXIT_USAGE
    assert "no_such_module_here" in one_error_line(capsys.readouterr().err)
