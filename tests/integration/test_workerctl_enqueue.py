"""`workerctl durable enqueue`: every payload source, the flags reaching the stored task, go-worker's validation."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain import DurableState, DurableTaskRecord
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_USAGE
from tests.integration.workerctl_support import Store, unique_store


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-enq")


def stored(store: Store, task_id: uuid.UUID | str) -> DurableTaskRecord:
    async def read(backend: RedisDurableBackend) -> DurableTaskRecord:
        return await backend.get(uuid.UUID(str(task_id)))

    return store.backend(read)


def enqueue_id(store: Store, *argv: str) -> str:
    result = store.cli("enqueue", "--handler", "send", "--apply", *argv)
    assert result.code == 0, result.err
    [line] = result.lines
    assert line.startswith("enqueued durable task id=")
    return line.removeprefix("enqueued durable task id=")


@pytest.mark.redis
def test_inline_json_is_stored_byte_for_byte_with_every_flag(store: Store) -> None:
    task_id = str(uuid.uuid4())
    body = '{ "to": "ops@example.com",  "n": 1 }'

    flags = ["--id", task_id, "--queue", " emails ", "--payload", body, "--priority", "3", "--weight", "7",
             "--retries", "4", "--retry-delay", "2s", "--delay", "1h",
             "--meta", "tenant=acme", "--meta", " ", "--meta", "trace=a=b"]  # fmt: skip
    assert enqueue_id(store, *flags) == task_id

    record = stored(store, task_id)
    assert record.payload == body.encode()
    assert (record.handler, record.queue, record.priority, record.weight) == ("send", "emails", 3, 7)
    assert (record.retries, record.retry_delay, record.state) == (4, 2.0, DurableState.DELAYED)
    assert dict(record.metadata) == {"tenant": "acme", "trace": "a=b"}


@pytest.mark.redis
def test_yaml_file_becomes_compact_sorted_json(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "payload.yaml"
    source.write_text("b: 2\na: [1, x]\n")

    record = stored(store, enqueue_id(store, "--payload-file", str(source)))

    assert record.payload == b'{"a":[1,"x"],"b":2}'
    assert (record.queue, record.priority, record.state) == ("default", 1, DurableState.READY)


@pytest.mark.redis
def test_json_file_and_stdin_are_stored_as_given(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "payload.json"
    source.write_bytes(b'{"k": "v"}\n')
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"[1, 2]")))

    from_file = enqueue_id(store, "--payload-file", str(source))
    from_stdin = enqueue_id(store, "--payload-file", "-")

    assert stored(store, from_file).payload == b'{"k": "v"}\n'
    assert stored(store, from_stdin).payload == b"[1, 2]"


@pytest.mark.redis
def test_binary_payloads_from_base64_inline_and_stdin(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = bytes(range(256))
    wrapped = base64.b64encode(raw).decode()
    wrapped = "\n".join(wrapped[i : i + 60] for i in range(0, len(wrapped), 60))

    inline = enqueue_id(store, "--payload-b64", wrapped)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(wrapped.encode())))
    piped = enqueue_id(store, "--payload-b64-file", "-", "--run-at", "2030-01-02T03:04:05Z")

    assert stored(store, inline).payload == raw
    record = stored(store, piped)
    assert record.payload == raw
    assert record.ready_at == 1893553445.0


@pytest.mark.redis
def test_a_duplicate_id_is_exit_1(store: Store) -> None:
    task_id = enqueue_id(store, "--payload", "{}")

    again = store.cli("enqueue", "--handler", "send", "--payload", "{}", "--id", task_id, "--apply")

    assert again.code == EXIT_ERROR
    assert again.err.startswith("workerctl: durable task already exists")


def test_without_apply_nothing_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    task_id = str(uuid.uuid4())
    # A closed port: a dry run that connected would fail.
    code = main(["durable", "enqueue", "--handler", "h", "--payload", "{}", "--id", task_id,
                 "--redis-url", "redis://127.0.0.1:1/0"])  # fmt: skip

    assert (code, capsys.readouterr().out) == (0, f"dry-run: use --apply to enqueue task {task_id}\n")


SOURCES = "use exactly one of --payload, --payload-file, --payload-b64, or --payload-b64-file"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "handler is required"),
        (["--handler", "h"], SOURCES),
        (["--handler", "h", "--payload", "{}", "--payload-b64", "AA=="], SOURCES),
        (["--handler", "h", "--payload-b64", "AA==", "--payload-format", "json"],
         "payload format is not applicable with base64 payloads"),
        (["--handler", "h", "--payload-b64", " \n "], "base64 payload is empty"),
        (["--handler", "h", "--payload-b64", "!!!"], "decode base64 payload"),
        (["--handler", "h", "--payload", "{}", "--payload-format", "toml"], "payload format must be json or yaml"),
        (["--handler", "h", "--payload", "{nope"], "payload is not valid JSON"),
        (["--handler", "h", "--payload", "a: [", "--payload-format", "yaml"], "payload is not valid YAML"),
        (["--handler", "h", "--payload-file", "/nonexistent/p.json"], "read payload file"),
        (["--handler", "h", "--payload", "{}", "--id", "x"], "parse task id"),
        (["--handler", "h", "--payload", "{}", "--delay", "1s", "--run-at", "2030-01-01T00:00:00Z"],
         "use only one of --run-at or --delay"),
        (["--handler", "h", "--payload", "{}", "--run-at", "tomorrow"], "parse run-at"),
        (["--handler", "h", "--payload", "{}", "--run-at", "2030-01-01T00:00:00"], "parse run-at"),
        (["--handler", "h", "--payload", "{}", "--meta", "novalue"], "metadata must be key=value"),
        (["--handler", "h", "--payload", "{}", "--meta", "=v"], "metadata key is required"),
        (["--handler", "h", "--payload", "{}", "--delay", "soon"], "soon"),
    ],
)  # fmt: skip
def test_validation_errors_are_one_line_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["durable", "enqueue", *argv, "--apply", "--redis-url", "redis://127.0.0.1:1/0"])

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    [line] = err.splitlines()
    assert message in line
