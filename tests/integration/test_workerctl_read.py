"""`workerctl durable` read commands and pause/resume on the real Redis: what an operator sees, exit codes, errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import attrs
import pytest

from pyworker.adapters.redis import RedisDurableBackend
from pyworker.domain import DurableTask
from pyworker.entrypoints.errors import EXIT_ERROR, EXIT_USAGE
from tests.integration.workerctl_support import Store, ids, unique_store

pytestmark = pytest.mark.redis


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-read")


@attrs.frozen
class Seeded:
    """emails: a (priority 0), b (priority 1, metadata), c (handler other); reports: d delayed;
    jobs: e processing, f dead ("boom")."""

    a: uuid.UUID
    b: uuid.UUID
    c: uuid.UUID
    d: uuid.UUID
    e: uuid.UUID
    f: uuid.UUID


def seed(store: Store) -> Seeded:
    s = Seeded(*(uuid.uuid4() for _ in range(6)))

    async def go(backend: RedisDurableBackend) -> None:
        for task_id in (s.e, s.f):
            await backend.enqueue(DurableTask("work", payload=b"{}", id=task_id, queue="jobs", retries=2))
        await backend.configure_queues("default", {}, ["jobs"])
        leases = {lease.task_id: lease for lease in await backend.dequeue(2, 60)}
        await backend.fail(leases[s.f], "boom")
        await backend.enqueue(DurableTask("send", payload=b"{}", id=s.a, queue="emails", priority=0, retries=3))
        await backend.enqueue(
            DurableTask("send", payload=b"{}", id=s.b, queue="emails", priority=1, metadata={"tenant": "acme"})
        )
        await backend.enqueue(DurableTask("other", payload=b"{}", id=s.c, queue="emails", priority=2))
        await backend.enqueue(
            DurableTask("report", payload=b"{}", id=s.d, queue="reports", run_at=time.time() + 3600)
        )

    store.backend(go)
    return s


def test_stats_json_has_real_per_queue_objects(store: Store) -> None:
    seed(store)

    result = store.cli("stats", "--json")

    assert result.code == 0, result.err
    [stats] = result.json_lines()
    by_queue = {q["queue"]: q for q in stats["queues"]}
    assert by_queue["emails"] == {"queue": "emails", "ready": 3, "delayed": 0, "processing": 0, "paused": False}
    assert by_queue["reports"]["delayed"] == 1
    assert by_queue["jobs"]["processing"] == 1
    assert (stats["total_ready"], stats["total_delayed"], stats["total_processing"], stats["dead"]) == (3, 1, 1, 1)


def test_stats_text_and_inspect_count_per_queue_and_in_total(store: Store) -> None:
    seed(store)

    stats = store.cli("stats")
    inspect = store.cli("inspect", "--queue", "emails", "--show-ids", "--peek", "2")

    assert "queue=emails ready=3 delayed=0 processing=0" in stats.lines
    assert stats.lines[-1] == "ready=3 delayed=1 processing=1 dead=1"
    assert inspect.lines[0] == "queue=emails ready=3 delayed=0 processing=0"
    assert inspect.lines[1] == "ready=3 delayed=0 processing=0 dead=1"
    assert len(inspect.lines[2].removeprefix("ready IDs: ").split(", ")) == 2


def test_inspect_peek_lists_ready_ids_in_dequeue_order(store: Store) -> None:
    s = seed(store)

    result = store.cli("inspect", "--queue", "emails", "--show-ids", "--peek", "5")

    assert result.lines[-1] == f"ready IDs: {s.a}, {s.b}, {s.c}"
    assert store.cli("inspect", "--show-ids").lines[-1] == "ready IDs: specify --queue to display IDs"
    assert store.cli("inspect", "--queue", "nothing", "--show-ids").lines[-1] == "ready IDs: none"


def test_queues_lists_names_and_with_counts_the_real_dlq_size(store: Store) -> None:
    seed(store)

    names = store.cli("queues")
    counted = store.cli("queues", "--with-counts")

    assert names.lines == ["default", "emails", "jobs", "reports"]
    assert counted.lines[-1] == "ready=3 delayed=1 processing=1 dead=1"


def test_get_prints_the_task_and_its_metadata_only_when_asked(store: Store) -> None:
    s = seed(store)

    plain = store.cli("get", "--id", str(s.b)).json_lines()[0]
    with_meta = store.cli("get", "--id", str(s.b), "--include-metadata").json_lines()[0]
    dead = store.cli("get", "--id", str(s.f)).json_lines()[0]

    assert plain["id"] == str(s.b)
    assert (plain["status"], plain["handler"], plain["queue"], plain["priority"]) == ("ready", "send", "emails", 1)
    assert "metadata" not in plain
    assert "payload" not in plain
    assert with_meta["metadata"] == {"tenant": "acme"}
    assert (dead["status"], dead["attempts"], dead["last_error"]) == ("dead", 1, "boom")


def test_get_errors_are_one_line_with_exit_codes(store: Store) -> None:
    missing = uuid.uuid4()

    no_id = store.cli("get")
    bad_id = store.cli("get", "--id", "nope")
    not_found = store.cli("get", "--id", str(missing))

    assert (no_id.code, bad_id.code, not_found.code) == (EXIT_USAGE, EXIT_USAGE, EXIT_ERROR)
    assert no_id.err.splitlines() == ["workerctl: --id is required (see 'workerctl durable get --help')"]
    assert bad_id.err.splitlines() == ["workerctl: invalid task id 'nope': expected a UUID"]
    assert not_found.err.splitlines() == [f"workerctl: task {missing} not found"]


def test_dump_emits_each_source_in_order_without_payloads(store: Store) -> None:
    s = seed(store)

    default = store.cli("dump").json_lines()
    everything = store.cli("dump", "--delayed", "--processing", "--dlq").json_lines()
    dlq_only = store.cli("dump", "--no-ready", "--dlq").json_lines()

    assert ids(default) == [str(s.a), str(s.b), str(s.c)]
    assert ids(everything) == [str(s.a), str(s.b), str(s.c), str(s.d), str(s.e), str(s.f)]
    assert [line["status"] for line in everything] == ["ready"] * 3 + ["delayed", "processing", "dead"]
    assert ids(dlq_only) == [str(s.f)]
    assert all("payload" not in line for line in everything)


def test_dump_filters_and_limit(store: Store) -> None:
    s = seed(store)

    assert ids(store.cli("dump", "--handler", "other").json_lines()) == [str(s.c)]
    assert ids(store.cli("dump", "--min-retries", "1").json_lines()) == [str(s.a)]
    assert ids(store.cli("dump", "--max-retries", "2", "--min-retries", "2", "--processing").json_lines()) == [
        str(s.e)
    ]
    assert ids(store.cli("dump", "--limit", "1").json_lines()) == [str(s.a)]
    assert store.cli("dump", "--older-than", "1h").json_lines() == []
    assert len(store.cli("dump", "--newer-than", "1h").json_lines()) == 3
    meta = store.cli("dump", "--queue", "emails", "--include-metadata").json_lines()
    assert meta[1]["metadata"] == {"tenant": "acme"}


def test_dlq_list_shows_error_attempts_and_time(store: Store) -> None:
    s = seed(store)

    text = store.cli("dlq", "list")
    [line] = store.cli("dlq", "list", "--json").json_lines()

    assert text.lines[0].startswith(f"{s.f} queue=jobs handler=work attempts=1 failed_at=")
    assert text.lines[0].endswith("error='boom'")
    assert (line["id"], line["last_error"], line["attempts"]) == (str(s.f), "boom", 1)
    assert line["failed_at"].endswith("Z")


def test_pause_is_a_dry_run_until_apply_then_resume_undoes_it(store: Store) -> None:
    dry = store.cli("pause")
    assert dry.lines == ["dry-run: use --apply to pause durable dequeue"]
    assert store.cli("paused").lines == ["paused=false"]

    assert store.cli("pause", "--apply").lines == ["durable dequeue paused"]
    assert store.cli("paused").lines == ["paused=true"]
    assert store.cli("pause", "--queue", "emails", "--apply").lines == ["durable dequeue paused for queue=emails"]
    assert store.cli("paused").lines == ["paused=true", "queue=emails paused=true"]
    assert store.cli("paused", "--queue", "emails").lines == ["queue=emails paused=true"]

    assert store.cli("resume").lines == ["dry-run: use --apply to resume durable dequeue"]
    assert store.cli("paused").lines[0] == "paused=true"
    store.cli("resume", "--apply")
    store.cli("resume", "--queue", "emails", "--apply")
    assert store.cli("paused").lines == ["paused=false"]


def test_paused_dequeue_leases_nothing_until_resumed(store: Store) -> None:
    s = seed(store)
    store.cli("pause", "--queue", "emails", "--apply")

    async def lease_emails(backend: RedisDurableBackend) -> list[uuid.UUID]:
        await backend.configure_queues("default", {}, ["emails"])
        return [lease.task_id for lease in await backend.dequeue(1, 60)]

    assert store.backend(lease_emails) == []
    store.cli("resume", "--queue", "emails", "--apply")
    assert store.backend(lease_emails) == [s.a]
