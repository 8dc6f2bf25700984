"""docs/workerctl.md shows what the commands really print: regenerated here and compared."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support.workerctl_docs import document

DOC = Path(__file__).resolve().parents[2] / "docs" / "workerctl.md"

pytestmark = pytest.mark.redis


def test_docs_workerctl_md_is_the_real_output_of_every_command() -> None:
    probe = redis.Redis(host="127.0.0.1", port=6379)
    try:
        probe.ping()
    except (redis.ConnectionError, OSError):
        pytest.skip("no Redis server on 127.0.0.1:6379")
    finally:
        probe.close()

    generated = document()

    assert generated == DOC.read_text(encoding="utf-8"), (
        "docs/workerctl.md is stale: run `.venv/bin/python -m tests.support.workerctl_docs > docs/workerctl.md`"
    )
