"""`workerctl durable` connection flags: go-worker's flags and their env vars, the password never shown, errors."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import click
import pytest

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.durable_cli.connection import ENV_VARS, build_redis_url
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_USAGE
from tests.integration.workerctl_support import PORT, Store, unique_store


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-conn")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_url_is_built_from_go_workers_flags() -> None:
    assert build_redis_url(None, None, None, False, False) == "redis://127.0.0.1:6379/0"
    assert build_redis_url(None, "10.0.0.1:6380", "p@ss", True, False) == "rediss://:p%40ss@10.0.0.1:6380/0"
    assert build_redis_url("redis://u:old@h:1/2", None, "new", False, True) == (
        "rediss://u:new@h:1/2?ssl_cert_reqs=none&ssl_check_hostname=false"
    )


@pytest.mark.parametrize(
    ("url", "addr", "message"),
    [
        ("redis://127.0.0.1:6379/0", "127.0.0.1:6379", "use only one of --redis-url or --redis-addr"),
        (None, "localhost", "--redis-addr must be host:port, got 'localhost'"),
        ("http://x", None, "invalid Redis URL"),
    ],
)
def test_conflicting_or_bad_addresses_are_usage_errors(url: str | None, addr: str | None, message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        build_redis_url(url, addr, None, False, False)


@pytest.mark.redis
def test_redis_addr_and_prefix_come_from_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    store.cli("pause", "--apply")
    monkeypatch.setenv(ENV_VARS["redis_addr"], f"127.0.0.1:{PORT}")
    monkeypatch.setenv(ENV_VARS["redis_prefix"], store.prefix)
    capsys.readouterr()

    code = main(["durable", "paused"])

    assert (code, capsys.readouterr().out) == (0, "paused=true\n")


def test_redis_down_is_exit_1_with_one_line_and_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    port = closed_port()
    code = main(["durable", "stats", "--redis-addr", f"127.0.0.1:{port}", "--redis-password", "s3cret-pw"])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    [line] = captured.err.splitlines()
    assert line.startswith(f"workerctl: durable backend unavailable: redis://:***@127.0.0.1:{port}/0: ")
    assert "s3cret-pw" not in captured.err + captured.out


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VARS["redis_url"], f"redis://user:hunter2-{uuid.uuid4().hex}@127.0.0.1:{closed_port()}/0")

    code = main(["durable", "get", "--id", str(uuid.uuid4())])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert "hunter2" not in captured.err + captured.out
    assert "user:***@" in captured.err


def test_a_bad_url_flag_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["durable", "stats", "--redis-url", "http://127.0.0.1:6379"])

    assert code == EXIT_USAGE
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_server_that_never_answers_fails_within_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # listens (the kernel completes the handshake) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]

        code = main(["durable", "stats", "--redis-addr", f"127.0.0.1:{port}", "--timeout", "200ms"])

    assert code == EXIT_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"workerctl: durable backend unavailable: redis://127.0.0.1:{port}/0: no answer within 200ms"
    ]
