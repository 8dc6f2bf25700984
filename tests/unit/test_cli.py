"""workerctl's flags through main(argv): --version, one-line usage errors, Redis URLs, durations, the banner."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click
import pytest

import pyworker
from pyworker.application import DurableHandlerSpec
from pyworker.application.config import MAX_AUTO_BATCH
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.container import build_container
from pyworker.entrypoints.durations import DURATION, format_duration
from pyworker.entrypoints.errors import EXIT_USAGE
from pyworker.entrypoints.redis_url import redact_url
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX
from pyworker.entrypoints.worker import ASYNC_CONCURRENCY, banner, node_sizes, worker
from tests.support.fault_app import registry

ROOT = Path(__file__).resolve().parents[2]
APP = ["worker", "--app", "tests.support.fault_app:registry"]


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workerctl: "), err
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"workerctl {pyworker.__version__}\n"


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


@pytest.mark.parametrize("flag", ["--lease", "--renew", "--poll", "--timeout", "--connect-timeout", "--result-ttl"])
@pytest.mark.parametrize("value", ["-5s", "-1", "inf", "nan"])
def test_negative_or_endless_durations_are_refused(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*APP, flag, value]) == EXIT_USAGE
    assert flag in one_error_line(capsys.readouterr().err)


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker"]) == EXIT_USAGE
    assert "--app" in one_error_line(capsys.readouterr().err)
    assert main(["worker", "--app", "no_such_module_here:registry"]) == EXIT_USAGE
    assert "no_such_module_here" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("200ms", 0.2), ("1h30m", 5400.0), ("2.5", 2.5)])
def test_duration_type_accepts(text: str, seconds: float) -> None:
    assert DURATION.convert(text, None, None) == pytest.approx(seconds)


def test_duration_type_refuses_negative() -> None:
    with pytest.raises(click.BadParameter):
        DURATION.convert("-5s", None, None)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.2, "200ms"), (30.0, "30s"), (90.0, "1m30s"), (3600.0, "1h"), (0.0, "0s"), (1.5, "1.5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://user:s3cret@host:6380/1", "redis://user:***@host:6380/1"),
        ("rediss://user:s3cret@host", "rediss://user:***@host"),
        ("redis://host/0?password=s3cret&db=1", "redis://host/0?password=***&db=1"),
        ("unix://:s3cret@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_banner_shows_the_settings_with_the_password_redacted() -> None:
    container = build_container(
        manager={"max_workers": 3},
        durable={"lease": 45, "batch_size": 4, "prefetch": 2, "queues": ["mail", "images"]},
        backend={"kind": "redis", "redis_url": "redis://:s3cret@127.0.0.1:6379/0", "redis_prefix": "shop"},
    )
    handlers: dict[str, DurableHandlerSpec] = registry.handlers()

    line = banner(container, handlers)

    assert line.startswith("worker ready: ")
    assert "s3cret" not in line
    for part in (
        "url=redis://:***@127.0.0.1:6379/0",
        "prefix=shop",
        "queues=mail,images",
        "concurrency=3",
        "lease=45s",
        "batch=4",
        "prefetch=2",
        "results=10m",
        "handlers=['record']",
    ):
        assert part in line.split(), (part, line)


def test_banner_of_a_memory_node_names_no_redis() -> None:
    container = build_container(backend={"kind": "memory"})
    line = banner(container, registry.handlers())
    assert "backend=memory" in line.split()
    assert "url=" not in line
    assert "queues=all" in line.split()


def test_banner_says_when_results_are_off() -> None:
    container = build_container(backend={"kind": "memory"}, durable={"result_ttl": 0})
    assert "results=off" in banner(container, registry.handlers()).split()


def _option_default(command: click.Command, name: str) -> object:
    return next(param.default for param in command.params if param.name == name)


def test_the_example_producer_and_workerctl_share_one_prefix_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples"))
    for name in ("producer", "tasks"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    producer = importlib.import_module("producer")
    try:
        produced_default = producer.parser().parse_args([]).redis_prefix
    finally:
        for name in ("producer", "tasks"):
            sys.modules.pop(name, None)

    assert produced_default == _option_default(worker, "redis_prefix") == DEFAULT_REDIS_PREFIX


async def _coroutine_handler(ctx: object, message: object) -> None:
    return None


def _plain_handler(ctx: object, message: object) -> None:
    return None


def test_worker_sizes_follow_the_handler_kinds_unless_given() -> None:
    coroutines = {"a": DurableHandlerSpec(make=dict, fn=_coroutine_handler)}
    mixed = {**coroutines, "b": DurableHandlerSpec(make=dict, fn=_plain_handler)}
    threads = min(32, (os.cpu_count() or 1) + 4)
    for name in ("concurrency", "batch", "prefetch"):
        assert _option_default(worker, name) is None  # filled in by node_sizes
    assert node_sizes(coroutines, None, None, None) == (ASYNC_CONCURRENCY, ASYNC_CONCURRENCY, ASYNC_CONCURRENCY)
    assert node_sizes(mixed, None, None, None) == (threads, threads, threads)
    assert node_sizes(coroutines, 500, None, None) == (500, MAX_AUTO_BATCH, MAX_AUTO_BATCH)
    assert node_sizes(coroutines, 8, 3, None) == (8, 3, 3)
    assert node_sizes(coroutines, 8, None, 0) == (8, 8, 0)
