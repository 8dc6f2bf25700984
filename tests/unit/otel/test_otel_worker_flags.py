"""workerctl worker's telemetry flags (docs/observability.md, workerctl worker): a busy
--metrics-port is a one-line ConfigurationError (exit code 2), as is an unknown exporter."""

from __future__ import annotations

import socket

import pytest

from pyworker.entrypoints.cli import main

APP = ["worker", "--app", "tests.support.fault_app:registry", "--backend", "memory", "--codec", "json"]


def test_a_busy_metrics_port_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main([*APP, "--metrics-port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2  # a ConfigurationError: the usage code of entrypoints/errors.py
    assert len(err) == 1
    assert err[0].startswith("workerctl: ")
    assert "cannot serve metrics on 127.0.0.1" in err[0]


def test_an_unknown_exporter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*APP, "--traces", "jaeger"]) == 2
    assert "jaeger" in capsys.readouterr().err
