"""The installed `workerctl durable` as a subprocess: exit codes, stderr, JSON, progress bars, an interrupted move."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pyworker.adapters.redis import RedisDurableBackend, RedisKeys
from pyworker.domain import DurableState, DurableTask
from tests.integration.workerctl_support import HOST, PORT, URL, Store, unique_store

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WORKERCTL = str(Path(sys.executable).with_name("workerctl"))
BOUND = 60.0


@pytest.fixture
def store(capsys: pytest.CaptureFixture[str]) -> Iterator[Store]:
    yield from unique_store(capsys, "wctl-proc")


def workerctl(store: Store, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYWORKER_REDIS_URL": URL, "PYWORKER_REDIS_PREFIX": store.prefix}
    return subprocess.run([WORKERCTL, "durable", *argv], env=env, capture_output=True, text=True, timeout=BOUND)


def seed(store: Store, count: int, queue: str = "q", lease: bool = False) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]

    async def go(backend: RedisDurableBackend) -> None:
        tasks = [DurableTask("h", payload=b"p", id=i, queue=queue) for i in ids]
        for start in range(0, count, 1000):
            await backend.enqueue_many(tasks[start : start + 1000])
        if lease:
            await backend.configure_queues("default", {}, [queue])
            leased = 0
            while leased < count:
                leased += len(await backend.dequeue(1000, 3600))

    store.backend(go)
    return ids


def test_json_exit_codes_and_one_line_errors(store: Store) -> None:
    seed(store, 3)

    stats = workerctl(store, "stats", "--json")
    missing = workerctl(store, "get", "--id", str(uuid.uuid4()))
    usage = workerctl(store, "purge")
    down = workerctl(store, "stats", "--redis-url", "redis://:pw-xyz@127.0.0.1:1/0")

    assert stats.returncode == 0
    assert json.loads(stats.stdout)["total_ready"] == 3
    assert (missing.returncode, usage.returncode, down.returncode) == (1, 2, 1)
    for failed in (missing, usage, down):
        assert len(failed.stderr.splitlines()) == 1, failed.stderr
        assert failed.stderr.startswith("workerctl: ")
        assert "Traceback" not in failed.stderr
    assert "pw-xyz" not in down.stderr


def run_on_pty(store: Store, *argv: str) -> tuple[int, str]:
    """Run workerctl with stdout and stderr on a pseudo-terminal; returns its exit code and all it wrote."""
    env = {**os.environ, "PYWORKER_REDIS_URL": URL, "PYWORKER_REDIS_PREFIX": store.prefix, "TERM": "xterm-256color",
           "COLUMNS": "100"}
    controller, terminal = pty.openpty()
    process = subprocess.Popen([WORKERCTL, "durable", *argv], env=env, stdin=terminal, stdout=terminal,
                               stderr=terminal, close_fds=True)
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process exited
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(controller)
    return process.wait(timeout=BOUND), output.decode(errors="replace")


def test_a_long_move_shows_a_progress_bar_on_a_terminal_and_none_when_piped(store: Store) -> None:
    seed(store, 2500, lease=True)

    code, shown = run_on_pty(store, "requeue", "--queue", "q", "--processing", "--limit", "0", "--apply")
    piped = workerctl(store, "requeue", "--queue", "q", "--limit", "0", "--apply")

    assert code == 0
    assert "\u2501" in shown, shown  # rich's bar is drawn with heavy horizontals
    assert "%" in shown
    assert "requeued 2500 task(s)" in shown
    assert piped.returncode == 0
    assert piped.stdout == "requeued 2500 task(s)\n"
    assert piped.stderr == ""


def members(probe: redis.Redis, key: str) -> list[bytes]:
    found: list[bytes] = probe.zrange(key, 0, -1)  # type: ignore[assignment]  # redis-py's sync/async union
    return found


def test_an_interrupted_bulk_requeue_leaves_every_task_in_exactly_one_state(store: Store) -> None:
    ids = set(seed(store, 10_000, lease=True))
    keys = RedisKeys(store.prefix)
    probe = redis.Redis(host=HOST, port=PORT)
    env = {**os.environ, "PYWORKER_REDIS_URL": URL, "PYWORKER_REDIS_PREFIX": store.prefix}
    process = subprocess.Popen(
        [WORKERCTL, "durable", "requeue", "--queue", "q", "--processing", "--limit", "0", "--apply"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + BOUND
        # Kill it as soon as the first tasks moved (the polling is the only signal an outside process gives).
        while not probe.zcard(keys.ready("q")) and process.poll() is None:
            assert time.monotonic() < deadline, "the requeue never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=BOUND)
        # A rank is 12 bytes of weight and sequence, then the id (docs/durable.md#redis-layout).
        ready = {uuid.UUID(bytes=m[12:]) for m in members(probe, keys.ready("q"))}
        processing = {uuid.UUID(m.decode()) for m in members(probe, keys.processing("q"))}
        order = sorted(ids)
        with probe.pipeline(transaction=False) as pipe:
            for task_id in order:
                pipe.hget(keys.task(task_id), "state")
            states = dict(zip(order, pipe.execute(), strict=True))
    finally:
        probe.close()

    assert 0 < len(ready) < 10_000, "the kill came after the whole move: nothing was interrupted"
    assert ready.isdisjoint(processing)
    assert ready | processing == ids
    assert {states[i] for i in ready} == {DurableState.READY.value.encode()}
    assert {states[i] for i in processing} == {DurableState.PROCESSING.value.encode()}


def test_stats_watch_refreshes_until_interrupted_then_exits_0(store: Store) -> None:
    seed(store, 2)
    env = {**os.environ, "PYWORKER_REDIS_URL": URL, "PYWORKER_REDIS_PREFIX": store.prefix}
    process = subprocess.Popen([WORKERCTL, "durable", "stats", "--watch", "100ms", "--json"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        refreshes = [json.loads(process.stdout.readline()) for _ in range(2)]  # blocks until each refresh
        seed(store, 1)
        while (latest := json.loads(process.stdout.readline()))["total_ready"] != 3:
            pass
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=BOUND)
        process.stdout.close()

    assert [r["total_ready"] for r in refreshes] == [2, 2]
    assert latest["total_ready"] == 3
    assert process.returncode == 0
    assert "Traceback" not in err


def test_stats_watch_on_a_terminal_is_a_live_table(store: Store) -> None:
    seed(store, 4)
    env = {**os.environ, "PYWORKER_REDIS_URL": URL, "PYWORKER_REDIS_PREFIX": store.prefix, "TERM": "xterm-256color",
           "COLUMNS": "100"}
    controller, terminal = pty.openpty()
    process = subprocess.Popen([WORKERCTL, "durable", "stats", "--watch", "100ms"], env=env, stdin=terminal,
                               stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    shown = ""
    try:
        deadline = time.monotonic() + BOUND
        while "durable queues" not in shown or "dead=0" not in shown:
            assert time.monotonic() < deadline, shown
            if select.select([controller], [], [], 0.5)[0]:
                shown += os.read(controller, 65536).decode(errors="replace")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=BOUND) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=BOUND)
        os.close(controller)

    assert "\u2502" in shown or "\u2503" in shown  # the table's column rules, not key=value lines
    assert "queue=q" not in shown
