"""Durable Redis benchmark (`make bench-durable`): pyworker vs a bare BRPOP loop vs Huey.

Prints figures and ratios, never asserts speed, exits 0. Needs the Redis on
127.0.0.1:6379 (or DURABLE_BENCH_REDIS_URL); all keys live under a per-run
prefix and are deleted at the end. See bench/README.md for what each figure means.

Options: ``--quick`` (fewer tasks, 1 run each, 100,000 instead of 1,000,000 for
the dequeue test), ``--profile`` (one extra pyworker drain under cProfile; prints
the worker's top costs per task, and profiles the producer), ``--profile-only``
(just those profiles), ``--telemetry`` (only the drain, with the worker's telemetry
off and on, interleaved: OTLP/HTTP spans to a sink on 127.0.0.1 plus the Prometheus
endpoint, ``--traces otlp --metrics-port 0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: `python bench/durable.py`

import hiredis  # noqa: E402
import huey as huey_pkg  # noqa: E402
import redis  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from pyworker.adapters.redis.client import new_redis_client  # noqa: E402
from pyworker.adapters.redis.durable import RedisDurableBackend  # noqa: E402
from pyworker.adapters.redis.keys import RedisKeys  # noqa: E402
from pyworker.domain import DurableTask  # noqa: E402

URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
_OPTIONS = {"--quick", "--profile", "--profile-only", "--telemetry"}
if any(arg in ("-h", "--help") for arg in sys.argv[1:]) or not set(sys.argv[1:]) <= _OPTIONS:
    print(__doc__)
    raise SystemExit(0 if any(arg in ("-h", "--help") for arg in sys.argv[1:]) else 2)
QUICK = "--quick" in sys.argv
PROFILE_ONLY = "--profile-only" in sys.argv
PROFILE = "--profile" in sys.argv or PROFILE_ONLY
TELEMETRY = "--telemetry" in sys.argv
TELEMETRY_FLAGS = os.environ.get("DURABLE_BENCH_TELEMETRY_FLAGS", "--traces otlp --metrics-port 0").split()
N = 5_000 if QUICK else 20_000
REPEATS = 1 if QUICK else 3
LATENCY_N = 200
ENQUEUE_CHUNK = 1_000
DEQUEUE_CALLS = 200
DEQUEUE_LIMIT = 16
BIG = 100_000 if QUICK else 1_000_000
SMALL = 1_000
# The pyworker worker, tuned for throughput (printed with the results).
WORKER_FLAGS = ["--concurrency", "64", "--batch", "64", "--codec", "json", "--poll", "200ms", "--timeout", "5m"]
HUEY_WORKERS = int(os.environ.get("DURABLE_BENCH_HUEY_WORKERS", "8"))
HUEY_TYPE = "thread"  # gevent is not installed; threads beat processes for a no-op job on 2 CPUs
PAYLOAD = b"{}"

RUN = uuid.uuid4().hex[:12]
PREFIX = f"pyworker-bench-{RUN}"  # pyworker's keys: {pyworker-bench-RUN}:...
ENQ_PREFIX = f"{PREFIX}-enq"  # batched-enqueue figure (never drained)
DEQ_PREFIX = f"{PREFIX}-deq"  # dequeue-cost test
PROBE = f"pyworker-bench-{RUN}:probe"  # probe keys shared by the three systems
HUEY_NAME = f"pyworker_bench_{RUN}"
COUNT, DONE, REPLY, GO = f"{PROBE}:count", f"{PROBE}:done", f"{PROBE}:reply", f"{PROBE}:go"
BRPOP_QUEUE = f"{PROBE}:brpop"
CLEAN_PATTERNS = [f"{{{PREFIX}*", f"{PROBE}*", f"huey.*{HUEY_NAME}*"]

os.environ.update(
    DURABLE_BENCH_REDIS_URL=URL, DURABLE_BENCH_KEY=PROBE, DURABLE_BENCH_HUEY=HUEY_NAME,
    DURABLE_BENCH_HUEY_WORKERS=str(HUEY_WORKERS), DURABLE_BENCH_HUEY_TYPE=HUEY_TYPE,
)  # fmt: skip
sys.path.insert(0, str(BENCH))
import durable_baselines  # noqa: E402  (the Huey tasks, imported under the consumer's module name)

# -- processes ------------------------------------------------------------------------------------


class Consumer:
    """A consumer subprocess; ready once it printed its banner on stderr. Always stopped by stop()."""

    def __init__(self, argv: list[str], banner: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]), **(env or {})}
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.log: list[str] = []
        assert self.process.stderr is not None
        try:
            for line in self.process.stderr:
                self.log.append(line)
                if line.startswith(banner):
                    break
            else:
                raise RuntimeError(f"{argv[:3]} exited before it was ready:\n{''.join(self.log)}")
        except BaseException:
            self.stop()
            raise
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(ValueError, OSError):
            for line in self.process.stderr:
                self.log.append(line)

    def rss_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def consumer(kind: str, n: int, extra_env: dict[str, str] | None = None,
             flags: tuple[str, ...] = ()) -> Iterator[Consumer]:  # fmt: skip
    env = {"DURABLE_BENCH_N": str(n), **(extra_env or {})}
    if kind == "pyworker":
        argv = [str(Path(sys.executable).with_name("workerctl")), "worker", "--app", "durable_app:registry",
                "--redis-url", URL, "--redis-prefix", PREFIX, *WORKER_FLAGS, *flags]  # fmt: skip
        proc = Consumer(argv, "worker ready", env)
    else:
        argv = [sys.executable, "-c", "import durable_baselines as b; b.main()", kind]
        proc = Consumer(argv, "ready", env)
    try:
        yield proc
    finally:
        proc.stop()


# -- helpers --------------------------------------------------------------------------------------


def sync_client() -> redis.Redis:
    return redis.Redis.from_url(URL, socket_timeout=None)  # redis-py 8 defaults to 5 s: too short for BLPOP


def new_backend(prefix: str = PREFIX) -> RedisDurableBackend:
    # The client of the container and workerctl (docs/adr/0008); close() closes it too.
    return RedisDurableBackend(new_redis_client(URL), prefix=prefix, enqueue_chunk=ENQUEUE_CHUNK, close_client=True)


def tasks(handler: str, n: int) -> list[DurableTask]:
    return [DurableTask(handler=handler, payload=PAYLOAD, id=uuid.uuid4()) for _ in range(n)]


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def delete_keys(client: redis.Redis, patterns: list[str]) -> int:
    deleted = 0
    for pattern in patterns:
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted


def reset_probe(client: redis.Redis) -> None:
    client.delete(COUNT, DONE, REPLY, GO)


def wait_done(client: redis.Redis, timeout: float = 180.0) -> None:
    if client.blpop([DONE], timeout=timeout) is None:
        raise RuntimeError(f"the drain did not finish within {timeout}s (count={client.get(COUNT)!r})")


# -- 1. enqueue -----------------------------------------------------------------------------------


async def pyworker_enqueue_one_by_one(backend: RedisDurableBackend, batch: list[DurableTask]) -> float:
    start = time.perf_counter()
    for task in batch:
        await backend.enqueue(task)
    return len(batch) / (time.perf_counter() - start)


async def pyworker_enqueue_batched(backend: RedisDurableBackend, batch: list[DurableTask]) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch), ENQUEUE_CHUNK):
        outcomes = await backend.enqueue_many(batch[i : i + ENQUEUE_CHUNK])
        assert all(isinstance(o, uuid.UUID) for o in outcomes)
    return len(batch) / (time.perf_counter() - start)


async def brpop_enqueue_one_by_one(n: int) -> float:
    client = aioredis.Redis.from_url(URL)
    ids = [str(uuid.uuid4()).encode() for _ in range(n)]
    try:
        start = time.perf_counter()
        for task_id in ids:
            await client.lpush(BRPOP_QUEUE, task_id)
        return n / (time.perf_counter() - start)
    finally:
        await client.aclose()


async def brpop_enqueue_pipelined(n: int, key: str) -> float:
    client = aioredis.Redis.from_url(URL)
    ids = [str(uuid.uuid4()).encode() for _ in range(n)]
    try:
        start = time.perf_counter()
        for i in range(0, n, ENQUEUE_CHUNK):
            async with client.pipeline(transaction=False) as pipe:
                for task_id in ids[i : i + ENQUEUE_CHUNK]:
                    pipe.lpush(key, task_id)
                await pipe.execute()
        return n / (time.perf_counter() - start)
    finally:
        await client.aclose()


def huey_enqueue_one_by_one(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        durable_baselines.noop()
    return n / (time.perf_counter() - start)


# -- 2. drain -------------------------------------------------------------------------------------


def timed_drain(kind: str, client: redis.Redis, start_signal: Callable[[], None],
                extra_env: dict[str, str] | None = None, wait: Callable[[], None] | None = None,
                flags: tuple[str, ...] = ()) -> tuple[float, float]:  # fmt: skip
    """Start the consumer, wait for its banner, signal go, wait until the probe saw N tasks."""
    with consumer(kind, N, extra_env, flags) as proc:
        start = time.perf_counter()
        start_signal()
        if wait is None:
            wait_done(client)
        else:
            wait()
        elapsed = time.perf_counter() - start
        rss = proc.rss_mib()
    return N / elapsed, rss


def wait_empty(client: redis.Redis, timeout: float = 180.0) -> None:
    """For the probe-less drain: poll (10 ms) until the ready and processing sets are empty."""
    keys = RedisKeys(PREFIX)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with client.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.ready("default"))
            pipe.zcard(keys.processing("default"))
            if sum(pipe.execute()) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"the probe-less drain did not finish within {timeout}s")


def run_async(coro: Awaitable[Any]) -> Any:
    async def wrap() -> Any:
        return await coro

    return asyncio.run(wrap())


def pyworker_round(client: redis.Redis, results: dict[str, list[float]], mode: str = "async",
                   profile: str | None = None, otlp: str | None = None) -> None:  # fmt: skip
    """Fill a paused prefix with N tasks, start a worker, resume, time the drain.

    mode ``async`` (the headline): the fill is the timed one-by-one enqueue, the
    handler probes with redis.asyncio, and the batched-enqueue figure is taken too.
    ``sync``: the handler probes with sync redis-py (the baselines' code). ``bare``:
    the handler does nothing; completion is seen by polling the queue's sets.
    """
    reset_probe(client)

    async def fill() -> float:
        backend = new_backend()
        try:
            await backend.pause()
            if mode == "async" and otlp is None:
                return await pyworker_enqueue_one_by_one(backend, tasks("noop", N))
            return await pyworker_enqueue_batched(backend, tasks("noop", N))
        finally:
            await backend.close()

    rate = run_async(fill())

    def resume() -> None:
        async def go() -> None:
            backend = new_backend()
            try:
                await backend.resume()
            finally:
                await backend.close()

        run_async(go())

    env = {"DURABLE_BENCH_PROBE_MODE": "async" if mode == "telemetry_off" else mode}
    if profile:
        env["DURABLE_BENCH_PROFILE"] = profile
    waiter = (lambda: wait_empty(client)) if mode == "bare" else None
    flags: tuple[str, ...] = ()
    if otlp is not None:  # --telemetry: spans batched to the sink, metrics served for scraping
        env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_BSP_MAX_QUEUE_SIZE": str(4 * N)})
        flags = tuple(TELEMETRY_FLAGS)
    drained, rss = timed_drain("pyworker", client, resume, env, waiter, flags)
    if profile:
        return
    if otlp is not None or mode == "telemetry_off":
        results["drain_otel" if otlp is not None else "drain_plain"].append(drained)
        return
    if mode != "async":
        results[f"drain_{mode}"].append(drained)
        return
    results["enqueue_one"].append(rate)
    results["drain"].append(drained)
    results["rss"].append(rss)

    async def batched() -> float:
        backend = new_backend(ENQ_PREFIX)
        try:
            return await pyworker_enqueue_batched(backend, tasks("noop", N))
        finally:
            await backend.close()

    results["enqueue_batch"].append(run_async(batched()))
    delete_keys(client, [f"{{{ENQ_PREFIX}}}*"])


def brpop_round(client: redis.Redis, results: dict[str, list[float]]) -> None:
    reset_probe(client)
    client.delete(BRPOP_QUEUE)
    results["enqueue_one"].append(run_async(brpop_enqueue_one_by_one(N)))
    drained, rss = timed_drain("brpop", client, lambda: client.lpush(GO, b"1"))
    results["drain"].append(drained)
    results["rss"].append(rss)
    scratch = f"{PROBE}:brpop-pipelined"
    results["enqueue_batch"].append(run_async(brpop_enqueue_pipelined(N, scratch)))
    client.delete(scratch, BRPOP_QUEUE)


def huey_round(client: redis.Redis, results: dict[str, list[float]]) -> None:
    reset_probe(client)
    durable_baselines.huey.flush()
    results["enqueue_one"].append(huey_enqueue_one_by_one(N))
    drained, rss = timed_drain("huey", client, lambda: client.lpush(GO, b"1"))
    results["drain"].append(drained)
    results["rss"].append(rss)


# -- 3. idle pickup latency -----------------------------------------------------------------------


async def pyworker_latency(runs: int) -> list[list[float]]:
    backend = new_backend()
    client = aioredis.Redis.from_url(URL)
    try:

        async def one() -> float:
            task = DurableTask(handler="echo", payload=PAYLOAD, id=uuid.uuid4())
            start = time.perf_counter()
            await backend.enqueue(task)
            if await client.blpop([REPLY], timeout=10) is None:
                raise RuntimeError("no reply from the pyworker worker")
            return time.perf_counter() - start

        return await sequential_latencies(one, runs)
    finally:
        await client.aclose()
        await backend.close()


async def brpop_latency(runs: int) -> list[list[float]]:
    client = aioredis.Redis.from_url(URL)
    try:

        async def one() -> float:
            start = time.perf_counter()
            await client.lpush(BRPOP_QUEUE, durable_baselines.ECHO)
            if await client.blpop([REPLY], timeout=10) is None:
                raise RuntimeError("no reply from the BRPOP loop")
            return time.perf_counter() - start

        return await sequential_latencies(one, runs)
    finally:
        await client.aclose()


async def sequential_latencies(one: Callable[[], Awaitable[float]], runs: int) -> list[list[float]]:
    """Warm up, then ``runs`` x LATENCY_N sequential round trips; the consumer idles between them."""
    for _ in range(20):
        await one()
        await asyncio.sleep(0.002)
    out: list[list[float]] = []
    for _ in range(runs):
        samples: list[float] = []
        for _ in range(LATENCY_N):
            await asyncio.sleep(0.003)  # the consumer is back to its blocking wait
            samples.append(await one())
        out.append(samples)
    return out


def huey_latency(client: redis.Redis, runs: int) -> list[list[float]]:
    def one() -> float:
        start = time.perf_counter()
        durable_baselines.echo()
        if client.blpop([REPLY], timeout=10) is None:
            raise RuntimeError("no reply from Huey")
        return time.perf_counter() - start

    for _ in range(20):
        one()
        time.sleep(0.002)
    out: list[list[float]] = []
    for _ in range(runs):
        samples = []
        for _ in range(LATENCY_N):
            time.sleep(0.003)
            samples.append(one())
        out.append(samples)
    return out


def latencies(client: redis.Redis) -> dict[str, tuple[float, float]]:
    """Median over runs of p50 and p99, in ms, per system."""
    out: dict[str, tuple[float, float]] = {}
    for kind in ("pyworker", "brpop", "huey"):
        reset_probe(client)
        with consumer(kind, 0):
            client.lpush(GO, b"1")
            if kind == "pyworker":
                runs = run_async(pyworker_latency(REPEATS))
            elif kind == "brpop":
                runs = run_async(brpop_latency(REPEATS))
            else:
                runs = huey_latency(client, REPEATS)
        p50 = median([percentile(r, 0.50) for r in runs]) * 1000
        p99 = median([percentile(r, 0.99) for r in runs]) * 1000
        out[kind] = (p50, p99)
    return out


# -- 4. dequeue cost vs queue length --------------------------------------------------------------


async def dequeue_cost() -> dict[str, Any]:
    """µs per dequeue(16) and per ack_many(16) with SMALL, then BIG tasks waiting."""
    backend = new_backend(DEQ_PREFIX)
    out: dict[str, Any] = {}
    try:

        async def fill(count: int) -> float:
            start = time.perf_counter()
            step = 50_000
            for i in range(0, count, step):
                await backend.enqueue_many(tasks("noop", min(step, count - i)))
            return count / (time.perf_counter() - start)

        async def measure() -> tuple[float, float]:
            deq: list[float] = []
            ack: list[float] = []
            for _ in range(REPEATS):
                spent_deq = spent_ack = 0.0
                for _ in range(DEQUEUE_CALLS):
                    start = time.perf_counter()
                    leases = await backend.dequeue(DEQUEUE_LIMIT, 30)
                    middle = time.perf_counter()
                    await backend.ack_many(leases)
                    spent_deq += middle - start
                    spent_ack += time.perf_counter() - middle
                    assert len(leases) == DEQUEUE_LIMIT
                    await backend.enqueue_many(tasks("noop", DEQUEUE_LIMIT))  # untimed refill: length stays
                deq.append(spent_deq / DEQUEUE_CALLS * 1e6)
                ack.append(spent_ack / DEQUEUE_CALLS * 1e6)
            return median(deq), median(ack)

        await fill(SMALL)
        for _ in range(20):  # warm-up (script load, connections)
            await backend.ack_many(await backend.dequeue(DEQUEUE_LIMIT, 30))
            await backend.enqueue_many(tasks("noop", DEQUEUE_LIMIT))
        out["small"] = await measure()
        out["fill_rate"] = await fill(BIG - SMALL)
        out["big"] = await measure()
        stats = await backend.stats()
        out["big_waiting"] = stats.total_ready
    finally:
        await backend.close()
    return out


# -- 5. probe and round trip ----------------------------------------------------------------------


async def probe_alone_async(concurrency: int) -> float:
    client = aioredis.Redis.from_url(URL, socket_timeout=None, max_connections=4096)  # as in durable_app
    key = f"{PROBE}:probe-alone"
    per = N // concurrency

    async def loop(count: int) -> None:
        for _ in range(count):
            await client.incr(key)

    try:
        await client.ping()
        start = time.perf_counter()
        await asyncio.gather(*(loop(per + (1 if i < N % concurrency else 0)) for i in range(concurrency)))
        return N / (time.perf_counter() - start)
    finally:
        await client.delete(key)
        await client.aclose()


def probe_alone_sync(client: redis.Redis) -> float:
    key = f"{PROBE}:probe-alone"
    start = time.perf_counter()
    for _ in range(N):
        client.incr(key)
    rate = N / (time.perf_counter() - start)
    client.delete(key)
    return rate


async def round_trip_us(**kwargs: Any) -> float:
    """One serial PING from redis.asyncio, µs (kwargs: client options)."""
    client = aioredis.Redis.from_url(URL, **kwargs)
    try:
        await client.ping()
        start = time.perf_counter()
        for _ in range(2_000):
            await client.ping()
        return (time.perf_counter() - start) / 2_000 * 1e6
    finally:
        await client.aclose()


def round_trip_sync_us(client: redis.Redis) -> float:
    client.ping()
    start = time.perf_counter()
    for _ in range(2_000):
        client.ping()
    return (time.perf_counter() - start) / 2_000 * 1e6


# -- profile --------------------------------------------------------------------------------------

_CATEGORIES = (
    ("redis-py", ("site-packages/redis/", "site-packages/hiredis/")),
    ("asyncio + selectors", ("/asyncio/", "/selectors.py")),
    ("pyworker application/", (str(ROOT / "application"),)),
    ("pyworker domain/", (str(ROOT / "domain"),)),
    ("pyworker adapters/", (str(ROOT / "adapters"),)),
    ("bench app (the probe)", (str(BENCH),)),
)


def _category(filename: str, name: str) -> str:
    for label, markers in _CATEGORIES:
        if any(marker in filename for marker in markers):
            return label
    if filename == "~":
        return f"C builtins ({'socket' if 'socket' in name or 'select' in name or 'poll' in name else 'other'})"
    return "other Python (attrs, uuid, json, ...)"


def profile_drain(client: redis.Redis, mode: str) -> None:
    """One drain under cProfile in the worker (the event-loop thread); prints costs per task."""
    path = os.path.join(tempfile.gettempdir(), f"pyworker-bench-{RUN}-{mode}.prof")
    try:
        pyworker_round(client, {}, mode=mode, profile=path)
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        stats: Any = pstats.Stats(path)
    finally:
        delete_keys(client, [f"{{{PREFIX}}}*"])
    what = {"async": "handler = redis.asyncio INCR probe", "bare": "handler does nothing (pyworker alone)",
            "sync": "handler = sync redis-py INCR probe"}[mode]  # fmt: skip
    print(f"\n== Profile: one pyworker drain of {N:,} tasks, {what}; cProfile in the worker ==")
    rows = []
    by_category: dict[str, float] = {}
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append((tottime, cumtime, ncalls, f"{_short(filename)}:{line}({name})"))
        label = _category(filename, name)
        by_category[label] = by_category.get(label, 0.0) + tottime
    total = sum(r[0] for r in rows)
    print(f"total {total:.2f}s = {total / N * 1e6:.0f} µs per task (cProfile roughly doubles Python costs; "
          "read the proportions). Includes start-up and idle waits.")
    for label, spent in sorted(by_category.items(), key=lambda item: -item[1]):
        print(f"  {label:38} {spent / N * 1e6:7.1f} µs/task  {spent / total:6.1%}")
    print(f"{'tottime µs/task':>16} {'cumtime µs/task':>16} {'calls/task':>11}  function")
    for tottime, cumtime, ncalls, where in sorted(rows, reverse=True)[:25]:
        print(f"{tottime / N * 1e6:16.1f} {cumtime / N * 1e6:16.1f} {ncalls / N:11.2f}  {where}")
    print(f"(full stats: python -m pstats {path})")


def profile_producer(client: redis.Redis) -> None:
    """The producer side in this process under cProfile: N one-by-one enqueues, then N batched."""

    async def run(profile: cProfile.Profile) -> None:
        backend = new_backend(ENQ_PREFIX)
        try:
            one, many = tasks("noop", N), tasks("noop", N)
            await backend.enqueue(tasks("noop", 1)[0])  # script load, connection
            profile.enable()
            for task in one:
                await backend.enqueue(task)
            profile.disable()
            profile.dump_stats(path_one)
            profile.clear()
            profile.enable()
            for i in range(0, N, ENQUEUE_CHUNK):
                await backend.enqueue_many(many[i : i + ENQUEUE_CHUNK])
            profile.disable()
        finally:
            await backend.close()

    path_one = os.path.join(tempfile.gettempdir(), f"pyworker-bench-{RUN}-enqueue.prof")
    profile = cProfile.Profile()
    try:
        run_async(run(profile))
    finally:
        delete_keys(client, [f"{{{ENQ_PREFIX}}}*"])
    for title, stats in (("backend.enqueue one by one", pstats.Stats(path_one)), (
            f"backend.enqueue_many, {ENQUEUE_CHUNK:,} per call", pstats.Stats(profile))):  # fmt: skip
        print(f"\n== Profile: producer, {N:,} x {title}; cProfile in this process ==")
        entries: Any = stats.stats  # type: ignore[attr-defined]
        rows = [(tt, ct, nc, f"{_short(f)}:{line}({name})") for (f, line, name), (_c, nc, tt, ct, _) in entries.items()]
        total = sum(r[0] for r in rows)
        print(f"total {total:.2f}s = {total / N * 1e6:.0f} µs per task")
        print(f"{'tottime µs/task':>16} {'cumtime µs/task':>16} {'calls/task':>11}  function")
        for tottime, cumtime, ncalls, where in sorted(rows, reverse=True)[:15]:
            print(f"{tottime / N * 1e6:16.1f} {cumtime / N * 1e6:16.1f} {ncalls / N:11.2f}  {where}")


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- report ---------------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    client = sync_client()
    server = client.info("server")
    print("pyworker durable benchmark (Redis)")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), redis-py {redis.__version__}, "
          f"hiredis {hiredis.__version__}, huey {huey_pkg.__version__}")  # fmt: skip
    print(f"Redis server {server['redis_version']} at {URL} (redis-cli INFO server); {os.cpu_count()} CPUs; "
          f"each figure is the median of {REPEATS} run(s); {N:,} tasks per throughput run")  # fmt: skip
    print(f"pyworker worker: workerctl worker --app durable_app:registry {' '.join(WORKER_FLAGS)}")
    print("BRPOP loop: one process, sync redis-py, BRPOP + INCR per task (bench/durable_baselines.py)")
    print(f"Huey: RedisHuey (blocking BRPOP), Consumer(workers={HUEY_WORKERS}, worker_type={HUEY_TYPE!r}, "
          "periodic=False); producer calls the task (one LPUSH each)")  # fmt: skip
    print("Probe (all three): each task INCRs a counter; the N-th LPUSHes a done marker the bench BLPOPs.\n")
    sys.stdout.flush()
    keys = ("enqueue_one", "enqueue_batch", "drain", "rss", "drain_sync", "drain_bare", "drain_plain", "drain_otel")
    results = {kind: {k: [] for k in keys} for kind in ("pyworker", "brpop", "huey")}
    began = time.perf_counter()
    try:
        if TELEMETRY:
            telemetry_overhead(client, results["pyworker"])
            return 0
        if PROFILE_ONLY:
            profile_drain(client, "bare")
            profile_drain(client, "async")
            profile_producer(client)
            return 0
        for _ in range(REPEATS):  # interleaved, so drift in machine load hits every system alike
            pyworker_round(client, results["pyworker"])
            brpop_round(client, results["brpop"])
            huey_round(client, results["huey"])
            pyworker_round(client, results["pyworker"], mode="sync")
            pyworker_round(client, results["pyworker"], mode="bare")
        lat = latencies(client)
        extra = {
            "probe_async": median([run_async(probe_alone_async(64)) for _ in range(REPEATS)]),
            "probe_sync": median([probe_alone_sync(client) for _ in range(REPEATS)]),
            "rtt_async": median([run_async(round_trip_us()) for _ in range(REPEATS)]),
            "rtt_async_no_timeout": median([run_async(round_trip_us(socket_timeout=None)) for _ in range(REPEATS)]),
            "rtt_sync": median([round_trip_sync_us(client) for _ in range(REPEATS)]),
        }
        deq = run_async(dequeue_cost())
        delete_keys(client, [f"{{{DEQ_PREFIX}}}*"])
        report(results, lat, extra, deq)
        print(f"\n(total benchmark time {time.perf_counter() - began:.0f}s)")
        sys.stdout.flush()
        if PROFILE:
            profile_drain(client, "bare")
            profile_drain(client, "async")
            profile_producer(client)
    finally:
        delete_keys(client, CLEAN_PATTERNS)
        client.close()
    return 0


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint on 127.0.0.1 that accepts and discards every export."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def telemetry_overhead(client: redis.Redis, results: dict[str, list[float]]) -> None:
    """The drain (async probe) with the worker's telemetry off and on, interleaved."""
    with otlp_sink() as endpoint:
        for _ in range(REPEATS):
            pyworker_round(client, results, mode="telemetry_off")
            pyworker_round(client, results, otlp=endpoint)
    off, on = median(results["drain_plain"]), median(results["drain_otel"])
    overhead = (1 - on / off) * 100
    print(f"== Drain {N:,} pre-enqueued tasks, one worker, telemetry off vs on (tasks/s, median of {REPEATS}) ==")
    print(f"{'telemetry off':40} {off:>9,.0f}   runs: {', '.join(f'{v:,.0f}' for v in results['drain_plain'])}")
    print(f"{'telemetry on (' + ' '.join(TELEMETRY_FLAGS) + ')':40} {on:>9,.0f}   runs: "
          f"{', '.join(f'{v:,.0f}' for v in results['drain_otel'])}")  # fmt: skip
    print(f"overhead {overhead:.1f}% (target < 15%: {verdict(overhead < 15)}); spans go over OTLP/HTTP to a sink "
          "on 127.0.0.1 that discards them (OTEL_BSP_MAX_QUEUE_SIZE raised so none is dropped)")  # fmt: skip


def report(results: dict[str, dict[str, list[float]]], lat: dict[str, tuple[float, float]],
           extra: dict[str, float], deq: dict[str, Any]) -> None:  # fmt: skip
    med = {kind: {k: (median(v) if v else float("nan")) for k, v in r.items()} for kind, r in results.items()}
    py, bp, hu = med["pyworker"], med["brpop"], med["huey"]
    head = f"{'':40} {'pyworker':>9} {'BRPOP loop':>10} {'Huey':>8} {'py/BRPOP':>8} {'py/Huey':>8}  target"

    def row(label: str, a: float, b: float | None, c: float | None, fmt: str, target: str = "",
            higher: bool = True) -> None:  # fmt: skip
        cells = [format(v, fmt) if v is not None else "n/a" for v in (a, b, c)]
        ratios = ["n/a" if v is None else (ratio(a, v) if higher else ratio(v, a)) for v in (b, c)]
        print(f"{label:40} {cells[0]:>9} {cells[1]:>10} {cells[2]:>8} {ratios[0]:>8} {ratios[1]:>8}  {target}")

    print(f"== 1. Enqueue {N:,} no-op tasks, one producer (tasks/s, higher is better) ==")
    print(head)
    row("one by one (sequential awaits)", py["enqueue_one"], bp["enqueue_one"], hu["enqueue_one"], ",.0f",
        f">= 7,000/s: {verdict(py['enqueue_one'] >= 7_000)}")  # fmt: skip
    row(f"batched ({ENQUEUE_CHUNK:,} per call)", py["enqueue_batch"], bp["enqueue_batch"], None, ",.0f",
        f">= 50,000/s: {verdict(py['enqueue_batch'] >= 50_000)}")  # fmt: skip
    print("  pyworker: RedisDurableBackend(new_redis_client(url)).enqueue / enqueue_many of prebuilt DurableTasks")
    print("  (one Lua script per task / per chunk); BRPOP: redis.asyncio LPUSH / pipelined LPUSH of prebuilt ids;")
    print("  Huey: calling the task (sync LPUSH of a pickled message); Huey has no batch enqueue.")

    print(f"\n== 2. Drain {N:,} pre-enqueued tasks with ONE worker process (tasks/s, higher is better) ==")
    print(head)
    row("drain (probe: redis.asyncio INCR)", py["drain"], bp["drain"], hu["drain"], ",.0f",
        f">= 10,000/s: {verdict(py['drain'] >= 10_000)}")  # fmt: skip
    row("  pyworker, probe: sync redis-py INCR", py["drain_sync"], bp["drain"], hu["drain"], ",.0f")
    row("  pyworker, no probe (handler empty) *", py["drain_bare"], None, None, ",.0f")
    row("worker RSS after the drain (MiB)", py["rss"], bp["rss"], hu["rss"], ".1f",
        f"< 60 MiB: {verdict(py['rss'] < 60)}", higher=False)  # fmt: skip
    print("  Timed from the worker's ready banner (the queue is paused until then / the baselines wait on a go")
    print("  key) to the N-th probe. The BRPOP loop and Huey always probe with sync redis-py.")
    print("  * completion seen by polling the ready and processing sets every 10 ms: pyworker's own ceiling.")
    print(f"  probe alone: {extra['probe_async']:,.0f} INCR/s from 64 concurrent coroutines (redis.asyncio), "
          f"{extra['probe_sync']:,.0f} INCR/s sequential sync redis-py")  # fmt: skip
    print(f"  one serial round trip (PING): redis.asyncio {extra['rtt_async']:.0f} µs with redis-py's default "
          f"socket_timeout (5 s), {extra['rtt_async_no_timeout']:.0f} µs with socket_timeout=None; "
          f"sync redis-py {extra['rtt_sync']:.0f} µs")  # fmt: skip

    print(f"\n== 3. Idle pickup latency, {LATENCY_N} sequential tasks (ms, lower is better) ==")
    print(head)
    (p50, p99), (b50, b99), (h50, h99) = lat["pyworker"], lat["brpop"], lat["huey"]
    row("p50, enqueue -> handler's reply received", p50, b50, h50, ".3f", f"< 1 ms: {verdict(p50 < 1)}",
        higher=False)  # fmt: skip
    row("p99", p99, b99, h99, ".3f", higher=False)
    print("  The consumer idles (blocked) before each task. Latency ratios > 1x mean pyworker is faster.")

    print("\n== 4. pyworker dequeue cost vs queue length (µs per call, lower is better) ==")
    (s_deq, s_ack), (b_deq, b_ack) = deq["small"], deq["big"]
    print(f"{'':40} {f'{SMALL:,} waiting':>14} {f'{BIG:,} waiting':>16} {'ratio':>7}  target")
    print(f"{f'dequeue({DEQUEUE_LIMIT}, 30s)':40} {s_deq:14.0f} {b_deq:16.0f} {b_deq / s_deq:6.2f}x  "
          f"<= 1.5: {verdict(b_deq / s_deq <= 1.5)}")  # fmt: skip
    print(f"{f'ack_many({DEQUEUE_LIMIT} leases)':40} {s_ack:14.0f} {b_ack:16.0f} {b_ack / s_ack:6.2f}x")
    print(f"  {DEQUEUE_CALLS} calls per run, the queue refilled (untimed) after each; {BIG:,} filled with "
          f"enqueue_many at {deq['fill_rate']:,.0f} tasks/s.")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
