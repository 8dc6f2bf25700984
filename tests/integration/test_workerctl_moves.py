"""`workerctl durable` retry, requeue, delete, purge, dlq replay on the real Redis: the right tasks move, kept whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain import DurableState, DurableTask, DurableTaskRecord, TaskNotFoundError
from pyworker.entrypoints.durable_cli.selection import DESTRUCTIVE_BOUND
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_USAGE
from tests.integration.workerctl_support import Store, unique_store

pytestmark = pytest.mark.redis


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-move")


def enqueue(store: Store, count: int, queue: str = "default", **fields: object) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]

    async def go(backend: RedisDurableBackend) -> None:
        tasks = [DurableTask("work", payload=b"\x00\xffp", id=i, queue=queue, **fields) for i in ids]  # type: ignore[arg-type]
        for result in await backend.enqueue_many(tasks):
            assert not isinstance(result, BaseException)

    store.backend(go)
    return ids


def kill(store: Store, queue: str, count: int) -> list[uuid.UUID]:
    """``count`` tasks leased once and failed into the DLQ, oldest first in the returned list."""
    ids = enqueue(store, count, queue, metadata={"k": "v"}, retries=1)

    async def go(backend: RedisDurableBackend) -> None:
        await backend.configure_queues("default", {}, [queue])
        leases = {lease.task_id: lease for lease in await backend.dequeue(count, 60)}
        for task_id in ids:
            await backend.fail(leases[task_id], f"boom {task_id}")

    store.backend(go)
    return ids


def lease(store: Store, queue: str, count: int) -> list[uuid.UUID]:
    async def go(backend: RedisDurableBackend) -> list[uuid.UUID]:
        await backend.configure_queues("default", {}, [queue])
        return [lease.task_id for lease in await backend.dequeue(count, 600)]

    return store.backend(go)


def record(store: Store, task_id: uuid.UUID) -> DurableTaskRecord:
    async def go(backend: RedisDurableBackend) -> DurableTaskRecord:
        return await backend.get(task_id)

    return store.backend(go)


def counts(store: Store) -> dict[str, int]:
    [stats] = store.cli("stats", "--json").json_lines()
    return {key: stats[key] for key in ("total_ready", "total_delayed", "total_processing", "dead")}


def test_retry_from_the_dlq_is_a_dry_run_then_moves_the_newest_first(store: Store) -> None:
    ids = kill(store, "q", 3)

    dry = store.cli("retry", "--limit", "2", "--show-ids")
    assert dry.lines == ["dry-run: use --apply to requeue 2 task(s) from dlq", str(ids[2]), str(ids[1])]
    assert counts(store)["dead"] == 3

    applied = store.cli("retry", "--limit", "2", "--apply")

    assert applied.lines == ["requeued 2 task(s)"]
    assert counts(store) == {"total_ready": 2, "total_delayed": 0, "total_processing": 0, "dead": 1}
    moved = record(store, ids[2])
    assert (moved.state, moved.attempts, dict(moved.metadata), moved.payload) == (
        DurableState.READY, 1, {"k": "v"}, b"\x00\xffp"
    )
    assert record(store, ids[0]).state is DurableState.DEAD


def test_retry_by_id_to_another_queue_with_a_delay(store: Store) -> None:
    [dead] = kill(store, "q", 1)
    [ready] = enqueue(store, 1, "q")

    result = store.cli("retry", "--id", f"{dead}, {ready}", "--queue", "other", "--delay", "1h", "--apply", "--json")

    assert result.json_lines() == [{"action": "requeue", "applied": True, "count": 2}]
    for task_id in (dead, ready):
        moved = record(store, task_id)
        assert (moved.state, moved.queue) == (DurableState.DELAYED, "other")


def test_requeue_brings_stuck_leases_back(store: Store) -> None:
    enqueue(store, 3, "q")
    leased = lease(store, "q", 2)

    dry = store.cli("requeue", "--queue", "q", "--processing")
    applied = store.cli("requeue", "--queue", "q", "--processing", "--apply")

    assert dry.lines == ["dry-run: use --apply to requeue 2 task(s) from processing:q"]
    assert applied.lines == ["requeued 2 task(s)"]
    assert counts(store) == {"total_ready": 3, "total_delayed": 0, "total_processing": 0, "dead": 0}
    assert {record(store, i).attempts for i in leased} == {1}


def test_requeue_with_nothing_to_move_is_exit_1(store: Store) -> None:
    result = store.cli("requeue", "--queue", "empty", "--apply")

    assert (result.code, result.err) == (EXIT_ERROR, "workerctl: no tasks found to requeue\n")


def test_dlq_replay_moves_the_oldest_first_with_counts(store: Store) -> None:
    ids = kill(store, "q", 3)

    dry = store.cli("dlq", "replay", "--batch", "2")
    applied = store.cli("dlq", "replay", "--batch", "2", "--apply")

    assert dry.lines == ["DLQ size before: 3", "dry-run: use --apply to replay up to 2 DLQ item(s)"]
    assert applied.lines == ["DLQ size before: 3", "replayed 2 DLQ item(s)", "DLQ size after: 1"]
    assert [record(store, i).state for i in ids] == [DurableState.READY, DurableState.READY, DurableState.DEAD]
    assert record(store, ids[0]).attempts == 1


def test_delete_by_id_and_from_a_source(store: Store) -> None:
    ready = enqueue(store, 2, "q")
    dead = kill(store, "d", 2)

    by_id = store.cli("delete", "--id", str(ready[0]), "--apply", "--delete-hash")
    dry = store.cli("delete", "--source", "dlq")
    from_dlq = store.cli("delete", "--source", "dlq", "--apply")

    assert by_id.lines == ["deleted 1 task(s)"]
    with pytest.raises(TaskNotFoundError):
        record(store, ready[0])
    assert dry.lines == ["dry-run: use --apply to delete 2 task(s) from dlq"]
    assert from_dlq.lines == ["deleted 2 task(s)"]
    assert record(store, dead[0]).state is DurableState.UNKNOWN
    assert counts(store) == {"total_ready": 1, "total_delayed": 0, "total_processing": 0, "dead": 0}


def test_purge_counts_per_set_and_removes_the_records(store: Store) -> None:
    ready = enqueue(store, 3, "a")
    enqueue(store, 1, "b")
    kill(store, "c", 2)

    dry = store.cli("purge", "--ready", "--dlq")
    applied = store.cli("purge", "--ready", "--dlq", "--queue", "a", "--apply")

    assert dry.lines == [
        "dry-run: would purge ready queue=a removed=3",
        "dry-run: would purge ready queue=b removed=1",
        "dry-run: would purge ready queue=c removed=0",
        "dry-run: would purge ready queue=default removed=0",
        "dry-run: would purge dlq removed=2",
        "dry-run: use --apply to purge",
    ]
    assert applied.lines == ["purged ready queue=a removed=3", "purged dlq removed=0"]
    with pytest.raises(TaskNotFoundError):
        record(store, ready[0])
    assert counts(store) == {"total_ready": 1, "total_delayed": 0, "total_processing": 0, "dead": 2}


def test_bulk_destruction_past_the_bound_needs_yes_or_a_limit(store: Store) -> None:
    enqueue(store, DESTRUCTIVE_BOUND + 1, "big")

    refused = store.cli("purge", "--ready", "--apply")
    refused_delete = store.cli("delete", "--source", "ready", "--from-queue", "big", "--apply")
    limited = store.cli("purge", "--ready", "--limit", "10", "--apply")
    confirmed = store.cli("purge", "--ready", "--yes", "--apply")

    assert refused.code == refused_delete.code == EXIT_USAGE
    assert "add --yes, or --limit N" in refused.err
    assert counts(store)["total_ready"] == 0
    assert limited.lines[0] == "purged ready queue=big removed=10"
    assert confirmed.lines[0] == f"purged ready queue=big removed={DESTRUCTIVE_BOUND - 9}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retry", "--source", ""], "source is required when --id is not set"),
        (["retry", "--source", "ready"], "--from-queue is required for source ready/processing"),
        (["retry", "--source", "elsewhere"], "source must be dlq, ready, or processing"),
        (["retry", "--id", "nope"], "invalid task id 'nope'"),
        (["delete"], "source is required when --id is not set"),
        (["delete", "--source", "processing"], "--from-queue is required for source ready/processing"),
        (["requeue"], "--queue is required"),
        (["purge"], "at least one of --ready, --processing, or --dlq is required"),
    ],
)
def test_validation_errors_are_usage_errors(store: Store, argv: list[str], message: str) -> None:
    result = store.cli(*argv, "--apply")

    assert result.code == EXIT_USAGE
    [line] = result.err.splitlines()
    assert message in line


def test_retry_from_ready_requeues_behind_the_peers_of_the_same_queue(store: Store) -> None:
    a, b, c = enqueue(store, 3, "q")

    result = store.cli("retry", "--source", "ready", "--from-queue", "q", "--limit", "2", "--apply")

    assert result.lines == ["requeued 2 task(s)"]
    assert [line["id"] for line in store.cli("dump", "--queue", "q").json_lines()] == [str(c), str(a), str(b)]
