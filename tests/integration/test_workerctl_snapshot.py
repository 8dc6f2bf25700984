"""`workerctl durable snapshot`: export, purge, import restores every task exactly; go-worker's lines accepted."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain import DurableState, DurableTask, DurableTaskRecord
from pyworker.entrypoints.errors import EXIT_ERROR
from tests.integration.workerctl_support import Store, unique_store

pytestmark = pytest.mark.redis

STATES = (DurableState.READY, DurableState.DELAYED, DurableState.PROCESSING, DurableState.DEAD)
EVERYTHING = ["--ready", "--delayed", "--processing", "--dlq", "--limit", "0"]


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-snap")


def every_record(store: Store) -> list[DurableTaskRecord]:
    async def go(backend: RedisDurableBackend) -> list[DurableTaskRecord]:
        out: list[DurableTaskRecord] = []
        for state in STATES:
            cursor: str | None = None
            while True:
                page = await backend.list_tasks(state, limit=1000, cursor=cursor)
                out.extend(page.records)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        return out

    return store.backend(go)


def seed(store: Store) -> None:
    async def go(backend: RedisDurableBackend) -> None:
        await backend.configure_queues("default", {}, ["dead"])
        for n in range(2):
            await backend.enqueue(DurableTask("h", payload=bytes([255, n, 0]), id=uuid.uuid4(), queue="dead"))
        for lease in await backend.dequeue(2, 60):
            await backend.fail(lease, "boom\nline two")
        await backend.configure_queues("default", {}, ["leased"])
        await backend.enqueue(DurableTask("h", payload=b"\x80", id=uuid.uuid4(), queue="leased", retries=2))
        await backend.dequeue(1, 600)
        await backend.enqueue(DurableTask("h", payload=bytes(range(256)), id=uuid.uuid4(), queue="a", priority=2,
                                          weight=9, metadata={"tenant": "acme"}, idempotency_key="k"))
        await backend.enqueue(DurableTask("h", payload=b'{"x": 1}', id=uuid.uuid4(), queue="a",
                                          run_at=backend.store.clock.now() + 3600, retry_delay=2.5))

    store.backend(go)


def test_export_purge_import_restores_every_task_byte_for_byte(store: Store, tmp_path: Path) -> None:
    seed(store)
    before = every_record(store)
    assert len(before) == 5
    out = tmp_path / "snap.jsonl"

    exported = store.cli("snapshot", "export", "--out", str(out), *EVERYTHING)
    purged = store.cli("purge", "--ready", "--delayed", "--processing", "--dlq", "--apply")
    assert every_record(store) == []
    dry = store.cli("snapshot", "import", "--in", str(out))
    assert every_record(store) == []
    imported = store.cli("snapshot", "import", "--in", str(out), "--apply")

    assert (exported.code, purged.code, imported.code) == (0, 0, 0), exported.err + purged.err + imported.err
    assert dry.lines == ["dry-run: use --apply to import 5 snapshot item(s)"]
    assert imported.lines == ["imported 5 snapshot item(s)"]
    assert every_record(store) == before
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ready", "delayed", "processing", "dead", "dead"]


def test_export_to_stdout_pages_and_honours_the_limit(store: Store) -> None:
    seed(store)

    one = store.cli("snapshot", "export", "--queue", "a", "--limit", "1", "--delayed").json_lines()

    assert [(line["status"], line["queue"]) for line in one] == [("ready", "a"), ("delayed", "a")]
    assert one[0]["fields"]["metadata"] == '{"tenant":"acme"}'
    assert "payload" not in one[0]["fields"]  # not UTF-8: only payload_b64 carries it
    assert one[1]["fields"]["payload"] == '{"x": 1}'


def test_a_go_worker_snapshot_line_is_accepted(store: Store, tmp_path: Path) -> None:
    task_id = uuid.uuid4()
    go_line = {"id": str(task_id), "status": "dead", "queue": "emails",
               "fields": {"handler": "send", "payload": '{"to":"a@b"}', "priority": "3", "queue": "emails",
                          "retries": "5", "attempts": "6", "metadata": '{"k":"v"}', "ready_at_ms": "1700000000000",
                          "updated_at_ms": "1700000001000", "last_error": "smtp down"}}  # fmt: skip
    source = tmp_path / "go.jsonl"
    source.write_text("\n" + json.dumps(go_line) + "\n\n")

    result = store.cli("snapshot", "import", "--in", str(source), "--apply")

    assert result.lines == ["imported 1 snapshot item(s)"]
    [record] = every_record(store)
    assert (record.id, record.state, record.queue, record.handler) == (task_id, DurableState.DEAD, "emails", "send")
    assert (record.payload, record.priority, record.retries, record.attempts) == (b'{"to":"a@b"}', 3, 5, 6)
    assert (dict(record.metadata), record.last_error) == ({"k": "v"}, "smtp down")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope\n", "line 2: decode snapshot entry"),
        ('{"status": "ready"}\n', "line 2: snapshot entry missing id"),
        ('\n{"id": "x"}\n', "line 3: snapshot entry id 'x' is not a UUID"),
    ],
)
def test_a_bad_snapshot_line_fails_before_anything_is_written(
    store: Store, tmp_path: Path, content: str, message: str
) -> None:
    good = json.dumps({"id": str(uuid.uuid4()), "fields": {"handler": "h", "payload": "{}"}})
    source = tmp_path / "bad.jsonl"
    source.write_text(good + "\n" + content)

    result = store.cli("snapshot", "import", "--in", str(source), "--apply")

    assert result.code == EXIT_ERROR
    [line] = result.err.splitlines()
    assert message in line
    assert every_record(store) == []
