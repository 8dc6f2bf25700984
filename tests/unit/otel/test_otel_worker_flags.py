"""The telemetry flags of workerctl worker and workerctl serve (docs/observability.md): a busy
--metrics-port is a one-line ConfigurationError (exit code 2), as is an unknown exporter."""

from __future__ import annotations

import socket

import pytest

from pyworker.entrypoints.cli import main

WORKER = ["worker", "--app", "tests.support.fault_app:registry", "--backend", "memory", "--codec", "json"]
SERVE = ["serve", "--address", "127.0.0.1:0"]
COMMANDS = pytest.mark.parametrize("command", [WORKER, SERVE], ids=["worker", "serve"])


@COMMANDS
def test_a_busy_metrics_port_is_a_one_line_error(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main([*command, "--metrics-port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2  # a ConfigurationError: the usage code of entrypoints/errors.py
    assert len(err) == 1
    assert err[0].startswith("workerctl: ")
    assert "cannot serve metrics on 127.0.0.1" in err[0]


@COMMANDS
def test_an_unknown_exporter_is_a_usage_error(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--traces", "jaeger"]) == 2
    assert "jaeger" in capsys.readouterr().err
