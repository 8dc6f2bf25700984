"""`workerctl worker` refuses a URL that is not Redis with one line and exit 2, before connecting."""

from __future__ import annotations

import pytest

from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_USAGE


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://127.0.0.1:port/0"])
def test_a_url_that_is_not_redis_exits_2_with_one_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["worker", "--app", "tests.support.fault_app:registry", "--redis-url", url])

    assert code == EXIT_USAGE
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "invalid Redis URL" in lines[0]
