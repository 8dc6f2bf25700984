"""Writes docs/workerctl.md: every command run for real against Redis, its output pasted in.

Run ``python -m tests.support.workerctl_docs > docs/workerctl.md`` (Redis on
127.0.0.1:6379) after changing a command; tests/integration/test_workerctl_docs.py
fails when the file and the commands disagree. Times come from a fixed clock and ids
are fixed, so the output is the same on every run; the examples run on their own key
prefix, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shlex
import sys
import uuid
from collections.abc import Iterator

import redis

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.redis import (
    RedisDurableBackend,
    RedisDurableStore,
    RedisKeys,
    RedisNodeRegistry,
    new_redis_client,
)
from pyworker.adapters.redis.admin import RedisAuditLog
from pyworker.application.admin import payload_hash
from pyworker.domain import DurableTask, NodeInfo
from pyworker.domain.admin import AuditEvent
from pyworker.domain.schedule import tick_task_id
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.container import build_container

URL = "redis://127.0.0.1:6379/0"
NOW = 1_767_268_800.0  # 2026-01-01T12:00:00Z
A, B, C, D, E, F = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 7))
G, H = "00000000-0000-4000-8000-000000000008", "00000000-0000-4000-8000-000000000009"  # for cancel


def seed(prefix: str, clock: ManualClock) -> None:
    """emails: A, B (metadata); reports: C delayed; jobs: D leased, E and F dead."""

    async def go() -> None:
        client = new_redis_client(URL)
        backend = RedisDurableBackend(client, prefix=prefix, clock=clock)
        try:
            for task_id in (D, E, F):
                await backend.enqueue(DurableTask("resize", payload=b'{"w":640}', id=uuid.UUID(task_id), queue="jobs",
                                                  retries=2))
            await backend.configure_queues("default", {}, ["jobs"])
            leases = {str(lease.task_id): lease for lease in await backend.dequeue(3, 3600)}
            await backend.fail(leases[E], "image too large")
            await backend.fail(leases[F], "timeout after 30s")
            await backend.enqueue(DurableTask("send_email", payload=b'{"to":"ops@example.com"}', id=uuid.UUID(A),
                                              queue="emails", retries=3))
            await backend.enqueue(DurableTask("send_email", payload=b'{"to":"cto@example.com"}', id=uuid.UUID(B),
                                              queue="emails", priority=2, metadata={"tenant": "acme"}))
            await backend.enqueue(DurableTask("build_report", payload=b"\x00\x01binary", id=uuid.UUID(C),
                                              queue="reports", run_at=NOW + 3600))
        finally:
            await backend.close()
            await client.aclose()

    asyncio.run(go())


def seed_schedule(prefix: str, clock: ManualClock) -> None:
    """Schedule nightly-report: yesterday's and today's noon ticks fired, the second while the first ran."""

    async def go() -> None:
        client = new_redis_client(URL)
        backend = RedisDurableBackend(client, prefix=prefix, clock=clock)
        try:
            store = backend.schedule_store()
            for tick in (NOW - 86400, NOW):
                task = DurableTask("build_report", payload=b"{}", id=tick_task_id("nightly-report", tick))
                await store.fire("nightly-report", tick, task, skip_if_running=True, history=100)
        finally:
            await backend.close()
            await client.aclose()

    asyncio.run(go())


def seed_nodes(prefix: str, clock: ManualClock) -> None:
    """Two worker nodes' heartbeats (the second serves only emails, two attempts running)."""

    async def go() -> None:
        client = new_redis_client(URL)
        try:
            registry = RedisNodeRegistry(client, prefix, clock)
            for host, pid, queues, running in (("worker-1", 4242, (), 0), ("worker-2", 5151, ("emails",), 2)):
                await registry.heartbeat(NodeInfo(f"{host}-{pid}-a1b2c3", host=host, pid=pid, version="0.1.0",
                                                  queues=queues, concurrency=8, running=running,
                                                  started_at=NOW - 3600, last_seen=NOW))  # fmt: skip
        finally:
            await client.aclose()

    asyncio.run(go())


def seed_audit(prefix: str) -> None:
    """Three admin actions in the audit log: a weight change, a refused replay, a pause."""

    async def go() -> None:
        client = new_redis_client(URL)
        try:
            log = RedisAuditLog(RedisDurableStore(client, prefix))
            for at, actor, action, target, status, detail, code in (
                (NOW - 120, "alice", "queue.update_weight", "emails", "ok", "ok", ""),
                (NOW - 60, "bob", "dlq.replay", "*", "error", "admin approval token is required", "permission_denied"),
                (NOW, "alice", "queue.pause", "reports", "ok", "ok", ""),
            ):
                await log.record(AuditEvent(at, actor, f"req-{int(at) % 1000}", action, target, status,
                                            payload_hash({"name": target}), detail, {"code": code} if code else {}))
        finally:
            await client.aclose()

    asyncio.run(go())


def seed_cancel(prefix: str, clock: ManualClock) -> None:
    """Queue exports: ...0008 leased by a worker, ...0009 ready (for cancel)."""

    async def go() -> None:
        client = new_redis_client(URL)
        backend = RedisDurableBackend(client, prefix=prefix, clock=clock)
        try:
            await backend.enqueue(DurableTask("export", payload=b"{}", id=uuid.UUID(G), queue="exports"))
            await backend.configure_queues("default", {}, ["exports"])
            await backend.dequeue(1, 3600)
            await backend.enqueue(DurableTask("export", payload=b"{}", id=uuid.UUID(H), queue="exports"))
        finally:
            await backend.close()
            await client.aclose()

    asyncio.run(go())


class Session:
    """Runs workerctl commands in-process on one prefix with the fixed clock; returns console text."""

    def __init__(self, prefix: str, clock: ManualClock) -> None:
        self.prefix = prefix
        self.clock = clock

    def run(self, command: str, stdin: str = "", shown: str = "") -> str:
        """The console block of ``workerctl <command>`` (shown as ``shown`` when given: a redirection)."""
        argv = shlex.split(command)
        container = build_container()
        container.core.clock.override(self.clock)
        connection = ["--redis-url", URL, "--redis-prefix", self.prefix] if argv[:1] == ["durable"] else []
        out, err = io.StringIO(), io.StringIO()
        old_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([*argv, *connection], container=container)
        finally:
            sys.stdin = old_stdin
        text = f"$ workerctl {shown or command}\n{out.getvalue()}{err.getvalue()}"
        if code:
            text += f"(exit {code})\n"
        return "```console\n" + text + "```\n"


@contextlib.contextmanager
def prefix_on_redis() -> Iterator[str]:
    prefix = f"pyworker-docs-{uuid.uuid4().hex}"
    probe = redis.Redis(host="127.0.0.1", port=6379)
    try:
        yield prefix
    finally:
        keys = list(probe.scan_iter(match=RedisKeys(prefix).pattern, count=1000))
        if keys:
            probe.delete(*keys)
        probe.close()


INTRO = """\
# workerctl: the operator's CLI for durable queues

`workerctl durable ...` reads and steers the durable queues a fleet of
`workerctl worker` nodes shares on Redis: counts, single tasks, the dead-letter
queue, pausing, moving tasks back, deleting, snapshots, the shared state of
durable schedules, the live worker nodes, the admin audit log, and cancelling one
task whichever node holds it. Every command that changes Redis is a **dry run
unless `--apply`**, and says exactly what it would change. The commands and
flags are go-worker's (`workerctl durable ...`), with go-worker's broken
`retry`, `requeue` and `dlq replay --apply` working as intended, real per-queue
objects in `stats --json`, and a few additions (`dlq list`, `--delayed`,
`--show-ids`, `--json` on the moving commands).

Every example below is real output: `tests/support/workerctl_docs.py` runs the
commands against Redis and writes this file, and a test fails when they
disagree. The examples start from this store: queue `emails` with two ready
tasks (`...0001`, `...0002` with metadata), queue `reports` with one delayed
task (`...0003`, a binary payload), queue `jobs` with one leased task
(`...0004`) and two dead-lettered ones (`...0005`, `...0006`).

## Connection

Every `durable` command takes these flags, each also read from an
environment variable:

| Flag | Environment variable | Default | Meaning |
|---|---|---|---|
| `--redis-url` | `PYWORKER_REDIS_URL` | `redis://127.0.0.1:6379/0` | `redis://`, `rediss://` (TLS) or `unix://` URL |
| `--redis-addr` | `PYWORKER_REDIS_ADDR` | | go-worker's `host:port` (instead of `--redis-url`) |
| `--redis-password` | `PYWORKER_REDIS_PASSWORD` | | password (never printed: messages show `***`) |
| `--redis-prefix` | `PYWORKER_REDIS_PREFIX` | `pyworker` | key prefix, wrapped as `{pyworker}` (one Cluster slot) |
| `--tls` | `PYWORKER_REDIS_TLS` | off | TLS (`rediss://`) |
| `--tls-insecure` | `PYWORKER_REDIS_TLS_INSECURE` | off | TLS without certificate verification |
| `--timeout` | `PYWORKER_REDIS_TIMEOUT` | `5s` | bound on each Redis call (`<= 0`: 5s); connecting too |
| `--cluster` | `PYWORKER_REDIS_CLUSTER` | off | the address is a Redis Cluster node (the client follows the cluster) |

Durations take Go's forms (`200ms`, `30s`, `1h30m`) or plain seconds.

## Errors and exit codes

One line on stderr, never a traceback for a user mistake: exit **1** for an
operational error (Redis down or too slow, task not found, nothing to
requeue, a bad snapshot line), **2** for a usage error (a bad flag or value, a
missing `--id`, a destructive bulk command past its bound).

"""


def document() -> str:
    clock = ManualClock(start=NOW)
    with prefix_on_redis() as prefix:
        seed(prefix, clock)
        s = Session(prefix, clock)
        parts = [INTRO]

        def section(title: str, text: str, *commands: str) -> None:
            parts.append(f"## {title}\n\n{text}\n\n")
            parts.extend(s.run(command) + "\n" for command in commands)

        section("inspect", "Counts per queue and in total; `--show-ids` with `--queue` peeks at the first ready ids.",
                "durable inspect", "durable inspect --queue emails --show-ids --peek 5")
        section("queues", "Queue names; `--with-counts` adds the counts and the real DLQ size.",
                "durable queues", "durable queues --with-counts")
        section("stats", "The counts; `--json` for scripts (one object per queue). `--watch 2s` refreshes until "
                "Ctrl-C: a live table on a terminal, one block (or JSON line) per refresh when piped.",
                "durable stats", "durable stats --json")
        section("get", "One task as a JSON line, without its payload; `--include-metadata` adds the metadata.",
                f"durable get --id {B} --include-metadata", f"durable get --id {E}", "durable get",
                "durable get --id 00000000-0000-4000-8000-0000000000ff")
        section("dump", "Tasks as JSON lines (no payloads): ready per queue, then delayed, processing and the DLQ "
                "(newest first) as asked. `--limit` (default 100, 0 = all) is per queue and state; filters "
                "`--handler`, `--min-retries`, `--max-retries`, `--older-than`, `--newer-than` (by last update).",
                "durable dump", "durable dump --no-ready --processing --dlq --handler resize",
                "durable dump --queue emails --min-retries 1")
        section("dlq list", "Dead-letter entries, newest first, with attempts, time and error (`--json` for lines).",
                "durable dlq list")
        section("enqueue", "One task from raw bytes: `--payload` (JSON, stored byte for byte), `--payload-file` "
                "(JSON, or YAML for `.yaml`/`.yml`, stored as compact JSON; `-` is stdin), `--payload-b64`, "
                "`--payload-b64-file`. Also `--queue`, `--priority` (default 1), `--weight`, `--retries`, "
                "`--retry-delay`, `--delay` or `--run-at` (RFC 3339), `--meta k=v` (repeatable). The bytes must "
                "be what the workers' codec reads (JSON payloads need workers started with `--codec json`).",
                "durable enqueue --handler send_email --payload '{\"to\":\"dev@example.com\"}' "
                "--id 00000000-0000-4000-8000-000000000007",
                "durable enqueue --handler send_email --payload '{\"to\":\"dev@example.com\"}' --queue emails "
                "--meta tenant=acme --id 00000000-0000-4000-8000-000000000007 --apply",
                "durable enqueue --handler send_email --payload '{nope' --apply",
                "durable enqueue --handler send_email --apply")
        section("retry", "Requeue tasks by `--id` (repeatable, comma lists) or from `--source dlq` (default; newest "
                "first), `ready` or `processing` (with `--from-queue`), at most `--limit` (default 100, 0 = all). "
                "`--queue` moves them, `--delay` makes them wait. Attempts, metadata, idempotency key and payload "
                "bytes are kept; a lease held on a moved task is void.",
                "durable retry --show-ids", f"durable retry --id {F} --apply", "durable retry --source ready")
        section("requeue", "A queue's ready tasks, or with `--processing` its leased ones (stuck leases back now).",
                "durable requeue --queue jobs --processing --show-ids",
                "durable requeue --queue jobs --processing --apply")
        section("dlq replay", "The oldest dead-letter tasks back to their queues, ready now (`--batch`, default 100).",
                "durable dlq replay", "durable dlq replay --batch 10 --apply")
        section("delete", "Take tasks out of every queue and the DLQ, by `--id` or from a `--source`; "
                "`--delete-hash` forgets them entirely (else `get` shows them as `unknown`).",
                f"durable delete --id {A} --apply --delete-hash", "durable delete --source ready --from-queue emails")
        section("purge", "Remove whole sets (`--ready`, `--delayed`, `--processing`, `--dlq`; records too), per "
                "queue or for `--queue`. Past 1000 tasks it needs `--yes` or an explicit `--limit`.",
                "durable purge --ready --queue emails", "durable purge", "durable purge --ready --queue emails --apply")
        section("pause, resume, paused", "Stop workers from leasing (all queues, or one with `--queue`); enqueue "
                "goes on. Running `workerctl worker` nodes stop leasing at their next dequeue.",
                "durable pause", "durable pause --apply", "durable pause --queue reports --apply", "durable paused",
                "durable resume --apply", "durable resume --queue reports --apply", "durable paused")
        seed_nodes(prefix, clock)
        section("nodes", "The live worker nodes: each `workerctl worker` (or embedded durable TaskManager) "
                "heartbeats every third of its `--node-ttl` (default 15s) and is listed until that TTL passes "
                "without a beat; a graceful stop removes it at once. `--json` prints one line per node with "
                "every field it reports (docs/cluster.md#nodes).",
                "durable nodes", "durable nodes --json")
        seed_audit(prefix)
        section("audit list, audit export", "The admin audit log (docs/grpc.md, \"The audit log\"): every "
                "AdminService action, with its actor, request id, target, outcome and the SHA-256 of its request, "
                "newest first. `list` filters by exact `--action` and `--target` (`--limit`, `--json` for lines); "
                "`export` writes every kept event as JSON lines or CSV (`--format`, `--output FILE`).",
                "durable audit list", "durable audit list --json --action dlq.replay",
                "durable audit export --format csv")
        section("snapshot export, snapshot import", "JSON lines in go-worker's shape (`id`, `status`, `queue`, "
                "`score`, `fields` = the stored task) plus `payload_b64`, the payload bytes exactly. Export pages "
                "through Redis (`--out`, `--queue`, `--limit` per queue and state, 0 = all; `--ready`, `--delayed`, "
                "`--processing`, `--dlq`). Import reads ours or go-worker's lines, checks the whole file first, "
                "then restores each task (state, scores, attempts, metadata) in one step; `--in -` is stdin.",
                "durable snapshot export --queue reports --no-ready --delayed")
        line = s.run("durable snapshot export --queue reports --no-ready --delayed").split("\n")[2]
        for command in ("durable snapshot import", "durable snapshot import --apply"):
            parts.append(s.run(command, stdin=line + "\n", shown=f"{command} < reports.jsonl") + "\n")
        seed_schedule(prefix, clock)
        section("schedules pause, resume, paused, history", "Durable schedules ([cluster.md](cluster.md#schedules)) "
                "keep their pause state and a bounded history of fires in Redis, shared by every node: pause one "
                "schedule by name, or all; `history NAME` shows the fires newest first (`--limit`, `--json`). A "
                "paused tick does not fire later. Schedules themselves are registered by the app's code "
                "(`workerctl worker --schedules`).",
                "durable schedules pause nightly-report", "durable schedules pause nightly-report --apply",
                "durable schedules paused", "durable schedules resume nightly-report --apply",
                "durable schedules history nightly-report", "durable schedules history nightly-report --json --limit 1")
        seed_cancel(prefix, clock)
        section("cancel", "Cancel one task by `--id`, whichever node holds it ([cluster.md](cluster.md#cancellation)): "
                "a ready or delayed task is dead-lettered as cancelled at once; a leased one is flagged and its "
                "node told, which cancels the attempt and dead-letters it (never retried). `--reason` is recorded "
                "in `last_error` (`task cancelled: <reason>`); `get` shows `cancelled_at`.",
                f"durable cancel --id {H}", f"durable cancel --id {H} --reason 'duplicate export' --apply",
                f"durable cancel --id {G} --apply", f"durable cancel --id {H} --apply", f"durable get --id {H}")
        section("completion, version", 'Shell completion: `eval "$(workerctl completion zsh)"` (bash, zsh, fish).',
                "completion powershell", "--version")
    return "".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
