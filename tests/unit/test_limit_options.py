"""The limit flags of `workerctl worker` and `workerctl serve`: parsing, one-line usage errors, plumbing."""

from __future__ import annotations

import pytest

from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.domain import ConfigurationError, DurableLimits
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.container import build_container, open_task_manager, shutdown
from pyworker.entrypoints.errors import EXIT_USAGE
from pyworker.entrypoints.limit_options import parse_queue_limit, parse_rate_limit


@pytest.mark.parametrize(
    ("text", "expected"), [("50", (50.0, 50)), ("50:10", (50.0, 10)), ("2.5", (2.5, 3)), ("0.2:1", (0.2, 1))]
)
def test_rate_and_burst_with_the_burst_defaulting_to_the_rate_rounded_up(
    text: str, expected: tuple[float, int]
) -> None:
    assert parse_rate_limit(text) == expected


def test_a_queue_limit_is_queue_equals_n() -> None:
    assert parse_queue_limit("reports=3") == ("reports", 3)


@pytest.mark.parametrize("command", ["worker", "serve"])
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--global-rate-limit", "0"], "the rate must be > 0"),
        (["--global-rate-limit", "fast"], "is not RATE[:BURST]"),
        (["--global-rate-limit", "5:0"], "the burst must be a whole number >= 1"),
        (["--queue-concurrency", "reports"], "is not QUEUE=N"),
        (["--queue-concurrency", "reports=0"], "must be a whole number >= 1"),
        (["--queue-concurrency", "=3"], "is not a queue name"),
        (["--queue-concurrency", "q=1", "--queue-concurrency", "q=2"], "queue q given twice"),
    ],
)
def test_a_bad_limit_flag_is_a_one_line_usage_error(
    command: str, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = ["--app", "tests.support.fault_app:registry"] if command == "worker" else []
    code = main([command, *app, *flags])

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err


async def test_the_containers_backend_gets_the_limits() -> None:
    container = build_container(
        backend={"kind": "memory", "global_rate_limit": (5, 2), "queue_concurrency": {"reports": 1}}
    )
    try:
        backend = await container.backends.durable_backend()
        assert isinstance(backend, InMemoryDurableBackend)
        assert backend.limits == DurableLimits((5, 2), {"reports": 1})
    finally:
        await shutdown(container)


async def test_open_task_manager_refuses_a_bad_limit() -> None:
    with pytest.raises(ConfigurationError, match="the burst must be"):
        async with open_task_manager(backend="memory", global_rate_limit=(5, 0)):
            pass
