"""Durable Redis benchmark (`make bench-durable`): pyworker beside Huey, SAQ, Taskiq and arq, and the floors.

Prints figures, targets and ratios, never asserts speed, exits 0. Needs the Redis on
127.0.0.1:6379 (or DURABLE_BENCH_REDIS_URL); all keys live under per-run names and
are deleted at the end (never a flush). See bench/README.md for what each figure means.
SAQ, Taskiq and arq run from their own venvs under .cache/bench-peers/, made on first
use from the exact pins in bench/peer-<peer>.txt (SAQ and arq pin an older redis-py).

Options: ``--quick`` (5,000 tasks, 1 run each, 100,000 instead of 1,000,000 waiting
tasks; about a minute), ``--no-peers`` (skip SAQ, Taskiq and arq), ``--profile`` (then
one pyworker drain under cProfile, empty handler and probe, and the producer),
``--profile-only`` (just those profiles), ``--telemetry`` (only the drain, with the
worker's telemetry off and on, interleaved: OTLP/HTTP spans to a sink on 127.0.0.1
plus the Prometheus endpoint, ``--traces otlp --metrics-port 0``), ``--results-off`` (every
pyworker worker with ``--result-ttl 0``: no outcome recorded per ack; docs/cluster.md#results),
``--limits`` (every pyworker worker also runs with cluster-wide limits far above what it
reaches, ``--global-rate-limit 1000000:1000000 --queue-concurrency default=1000000``: the cost
of the limits' path, docs/cluster.md#limits), ``--features`` (only the drain and the idle
pickup with each cluster feature of docs/cluster.md off and on, interleaved in one run:
``FEATURE_FLAGS`` below).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import cProfile
import json
import os
import platform
import pstats
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

from pyworker.adapters.codec import JsonDurableCodec  # noqa: E402
from pyworker.adapters.redis import RedisDurableBackend, new_redis_client  # noqa: E402
from pyworker.application import TaskManager  # noqa: E402
from pyworker.domain import DurableTask  # noqa: E402

URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
_OPTIONS = {"--quick", "--profile", "--profile-only", "--telemetry", "--no-peers", "--results-off", "--limits",
            "--features"}
if any(arg in ("-h", "--help") for arg in sys.argv[1:]) or not set(sys.argv[1:]) <= _OPTIONS:
    print(__doc__)
    raise SystemExit(0 if any(arg in ("-h", "--help") for arg in sys.argv[1:]) else 2)
QUICK = "--quick" in sys.argv
PROFILE_ONLY = "--profile-only" in sys.argv
PROFILE = "--profile" in sys.argv or PROFILE_ONLY
TELEMETRY = "--telemetry" in sys.argv
NO_PEERS = "--no-peers" in sys.argv
FEATURES = "--features" in sys.argv
RESULT_FLAGS = ["--result-ttl", "0"] if "--results-off" in sys.argv else []  # results on: the worker's default
TELEMETRY_FLAGS = os.environ.get("DURABLE_BENCH_TELEMETRY_FLAGS", "--traces otlp --metrics-port 0").split()
N = 5_000 if QUICK else 20_000
PEER_N = N if QUICK else N // 4  # the async peers drain ~1-2k/s: fewer tasks keep a run under 6 minutes
REPEATS = 1 if QUICK else 3
LATENCY_N = 100 if QUICK else 200
STARTUP_RUNS = 1 if QUICK else 3
ENQUEUE_CHUNK = 1_000
DEQUEUE_CALLS = 200
DEQUEUE_LIMIT = 16
BIG = 100_000 if QUICK else 1_000_000
SMALL = 1_000
# `workerctl worker` as a user starts it: no tuning flag (the app's handlers take JSON, so --codec json).
DEFAULT_FLAGS = ["--codec", "json"]
# The same worker tuned for throughput (printed with the results; DURABLE_BENCH_TUNED_FLAGS replaces it).
TUNED_FLAGS = os.environ.get("DURABLE_BENCH_TUNED_FLAGS", "--concurrency 64 --batch 64 --codec json").split()
if "--limits" in sys.argv:  # limits no run reaches: what enforcing them costs
    LIMIT_FLAGS = ["--global-rate-limit", "1000000:1000000", "--queue-concurrency", "default=1000000"]
    DEFAULT_FLAGS, TUNED_FLAGS = [*DEFAULT_FLAGS, *LIMIT_FLAGS], [*TUNED_FLAGS, *LIMIT_FLAGS]
HUEY_WORKERS = int(os.environ.get("DURABLE_BENCH_HUEY_WORKERS", "8"))
HUEY_TYPE = "thread"  # gevent is not installed; threads beat processes for a no-op job on 2 CPUs
PAYLOAD = b"{}"
EVALSHA_SCRIPT = "return redis.call('LPUSH', KEYS[1], ARGV[1])"  # the trivial script of the one-by-one floor

RUN = uuid.uuid4().hex[:12]
PREFIX = f"pyworker-bench-{RUN}"  # pyworker's keys: {pyworker-bench-RUN}:...
ENQ_PREFIX = f"{PREFIX}-enq"  # bulk-enqueue figures (never drained)
DEQ_PREFIX = f"{PREFIX}-deq"  # dequeue cost and Redis memory per waiting task
PROBE = f"pyworker-bench-{RUN}:probe"  # probe keys shared by every system
PEER_NAME = f"pyworker-bench-{RUN}-peer"  # SAQ / Taskiq / arq queue names (and arq's job ids)
HUEY_NAME = f"pyworker_bench_{RUN}"
COUNT, DONE, REPLY, GO = f"{PROBE}:count", f"{PROBE}:done", f"{PROBE}:reply", f"{PROBE}:go"
BRPOP_QUEUE = f"{PROBE}:brpop"
CLEAN_PATTERNS = [f"*pyworker-bench-{RUN}*", f"huey.*{HUEY_NAME}*"]

# The async peers, each with its best setting for this job on this machine (bench/README.md).
PEERS = {
    "saq": {"label": "SAQ", "setting": "Worker(concurrency=64), dequeue blocks (BLMOVE)",
            "env": {"DURABLE_BENCH_PEER_CONCURRENCY": "64"}},
    "taskiq": {"label": "Taskiq", "setting": "taskiq-redis ListQueueBroker (BRPOP), max_async_tasks=64, "
               "max_prefetch=64", "env": {"DURABLE_BENCH_PEER_CONCURRENCY": "64"}},
    "arq": {"label": "arq", "setting": "Worker(max_jobs=64, poll_delay=0.01, keep_result=0)",
            "env": {"DURABLE_BENCH_PEER_CONCURRENCY": "64", "DURABLE_BENCH_ARQ_POLL": "0.01"}},
}  # fmt: skip
# Each peer runs from its own venv: SAQ and arq pin an older redis-py; Taskiq brings pydantic, which
# dependency-injector imports when installed (it would inflate pyworker's worker in the project's venv).
PEER_REQUIREMENTS = {peer: BENCH / f"peer-{peer}.txt" for peer in PEERS}
PEER_VENVS = ROOT / ".cache" / "bench-peers"

os.environ.update(
    DURABLE_BENCH_REDIS_URL=URL, DURABLE_BENCH_KEY=PROBE, DURABLE_BENCH_HUEY=HUEY_NAME,
    DURABLE_BENCH_HUEY_WORKERS=str(HUEY_WORKERS), DURABLE_BENCH_HUEY_TYPE=HUEY_TYPE,
    DURABLE_BENCH_PEER_NAME=PEER_NAME, DURABLE_BENCH_LATENCY_N=str(LATENCY_N),
)  # fmt: skip
sys.path.insert(0, str(BENCH))
import durable_app  # noqa: E402  (the handlers: a producer TaskManager checks a task's handler is known)
import durable_baselines  # noqa: E402  (the Huey tasks, imported under the consumer's module name)
from bench_process import BenchProcess  # noqa: E402

# -- processes ------------------------------------------------------------------------------------


class Consumer(BenchProcess):
    """A consumer subprocess; ready once it printed its banner on stderr. Always stopped by stop()."""

    def __init__(self, argv: list[str], banner: str, env: dict[str, str] | None = None,
                 wait_ready: bool = True) -> None:  # fmt: skip
        full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]), **(env or {})}
        self.argv = argv
        self.banner = banner
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.log: list[str] = []
        if wait_ready:
            self.wait_ready()

    def wait_ready(self) -> None:
        assert self.process.stderr is not None
        try:
            for line in self.process.stderr:
                self.log.append(line)
                if line.startswith(self.banner):
                    break
            else:
                raise RuntimeError(f"{self.argv[:3]} exited before it was ready:\n{''.join(self.log)}")
        except BaseException:
            self.stop()
            raise
        self.drain_rest()


def workerctl_argv(flags: list[str] | tuple[str, ...]) -> list[str]:
    return [str(Path(sys.executable).with_name("workerctl")), "worker", "--app", "durable_app:registry",
            "--redis-url", URL, "--redis-prefix", PREFIX, *flags, *RESULT_FLAGS]  # fmt: skip


@contextlib.contextmanager
def consumer(kind: str, n: int, extra_env: dict[str, str] | None = None,
             flags: list[str] | tuple[str, ...] = (), processes: int = 1) -> Iterator[list[Consumer]]:  # fmt: skip
    """``processes`` consumers of one kind, each ready (its banner printed) before this yields."""
    env = {"DURABLE_BENCH_N": str(n), **(extra_env or {})}
    if kind == "pyworker":
        argv, banner = workerctl_argv(flags), "worker ready"
    elif kind in PEERS:
        argv, banner = [peer_python(kind) or "", str(BENCH / "peers.py"), kind, "consume"], "ready"
        env.update(PEERS[kind]["env"])
    else:
        argv, banner = [sys.executable, "-c", "import durable_baselines as b; b.main()", kind], "ready"
    procs: list[Consumer] = []
    try:
        for _ in range(processes):
            procs.append(Consumer(argv, banner, env))
        yield procs
    finally:
        for proc in procs:
            proc.stop()


# -- peers' interpreters ---------------------------------------------------------------------------

_PEER_PYTHON: dict[str, str | None] = {}


def peer_python(peer: str) -> str | None:
    """The interpreter that runs ``peer`` (made once under .cache/bench-peers/); None: not available."""
    if peer in _PEER_PYTHON:
        return _PEER_PYTHON[peer]
    venv = PEER_VENVS / peer
    stamp = venv / ".requirements"
    wanted = PEER_REQUIREMENTS[peer].read_text()
    python: str | None = str(venv / "bin" / "python")
    if not (venv / "bin" / "python").exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"(making {venv.relative_to(ROOT)} from {PEER_REQUIREMENTS[peer].relative_to(ROOT)} ...)")
        sys.stdout.flush()
        base = getattr(sys, "_base_executable", sys.executable)
        try:
            subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                            str(PEER_REQUIREMENTS[peer])], check=True, capture_output=True)  # fmt: skip
            stamp.write_text(wanted)
        except subprocess.CalledProcessError as exc:
            print(f"({peer}: could not make its venv, skipped: {exc.stderr.decode()[-300:]})")
            python = None
    _PEER_PYTHON[peer] = python
    return python


def peer_call(peer: str, *args: str, n: int = 0) -> Any:
    """Run ``peers.py PEER ARGS`` in the peer's interpreter; its stdout (JSON when it parses)."""
    env = {**os.environ, **PEERS[peer]["env"], "DURABLE_BENCH_N": str(n)}
    done = subprocess.run([peer_python(peer) or "", str(BENCH / "peers.py"), peer, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"peers.py {peer} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.stdout.strip()


# -- helpers --------------------------------------------------------------------------------------


def sync_client() -> redis.Redis:
    return redis.Redis.from_url(URL, socket_timeout=None)  # redis-py 8 defaults to 5 s: too short for BLPOP


def new_backend(prefix: str = PREFIX) -> RedisDurableBackend:
    # The client of the container and workerctl (docs/adr/0008); close() closes it too.
    return RedisDurableBackend(new_redis_client(URL), prefix=prefix, enqueue_chunk=ENQUEUE_CHUNK, close_client=True)


def tasks(handler: str, n: int) -> list[DurableTask]:
    return [DurableTask(handler=handler, payload=PAYLOAD, id=uuid.uuid4()) for _ in range(n)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


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


def run_async(coro: Awaitable[Any]) -> Any:
    async def wrap() -> Any:
        return await coro

    return asyncio.run(wrap())


# -- 1. enqueue -----------------------------------------------------------------------------------


async def pyworker_enqueue_one_by_one(backend: RedisDurableBackend, batch: list[DurableTask]) -> float:
    start = time.perf_counter()
    for task in batch:
        await backend.enqueue(task)
    return len(batch) / (time.perf_counter() - start)


async def pyworker_enqueue_many(backend: RedisDurableBackend, batch: list[DurableTask]) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch), ENQUEUE_CHUNK):
        outcomes = await backend.enqueue_many(batch[i : i + ENQUEUE_CHUNK])
        assert all(isinstance(o, uuid.UUID) for o in outcomes)
    return len(batch) / (time.perf_counter() - start)


async def pyworker_register_many(backend: RedisDurableBackend, batch: list[DurableTask]) -> float:
    """The TaskManager API: register_durable_tasks on a durable-mode (producer) manager, in chunks."""
    manager = TaskManager(durable_backend=backend, durable_handlers=durable_app.registry,
                          durable_codec=JsonDurableCodec())  # as the worker's --codec json  # fmt: skip
    start = time.perf_counter()
    for i in range(0, len(batch), ENQUEUE_CHUNK):
        ids = await manager.register_durable_tasks(batch[i : i + ENQUEUE_CHUNK])
        assert len(ids) == len(batch[i : i + ENQUEUE_CHUNK])
    return len(batch) / (time.perf_counter() - start)


async def evalsha_one_by_one(n: int) -> float:
    """The one-by-one floor: sequential EVALSHA of a trivial loaded script (one LPUSH), the client
    pyworker's producer uses (new_redis_client)."""
    client = new_redis_client(URL)
    key = f"{PROBE}:evalsha"
    ids = [str(uuid.uuid4()).encode() for _ in range(n)]
    try:
        sha = await client.script_load(EVALSHA_SCRIPT)
        start = time.perf_counter()
        for task_id in ids:
            await client.evalsha(sha, 1, key, task_id)
        return n / (time.perf_counter() - start)
    finally:
        await client.delete(key)
        await client.aclose()


async def lpush_one_by_one(n: int) -> float:
    client = aioredis.Redis.from_url(URL)
    ids = [str(uuid.uuid4()).encode() for _ in range(n)]
    try:
        start = time.perf_counter()
        for task_id in ids:
            await client.lpush(BRPOP_QUEUE, task_id)
        return n / (time.perf_counter() - start)
    finally:
        await client.aclose()


async def lpush_pipelined(n: int, key: str) -> float:
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
        await client.delete(key)
        await client.aclose()


def huey_enqueue_one_by_one(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        durable_baselines.noop()
    return n / (time.perf_counter() - start)


# -- 2. drain -------------------------------------------------------------------------------------


def timed_drain(kind: str, client: redis.Redis, start_signal: Callable[[], None], n: int = N,
                extra_env: dict[str, str] | None = None, wait: Callable[[], None] | None = None,
                flags: list[str] | tuple[str, ...] = (), processes: int = 1) -> tuple[float, float]:  # fmt: skip
    """Start the consumer(s), wait for the banner(s), signal go, wait until the probe saw n tasks.
    Returns (tasks/s, RSS of the first consumer after the drain, MiB)."""
    with consumer(kind, n, extra_env, flags, processes) as procs:
        start = time.perf_counter()
        start_signal()
        if wait is None:
            wait_done(client)
        else:
            wait()
        elapsed = time.perf_counter() - start
        rss = procs[0].rss_mib()
    return n / elapsed, rss


def wait_empty(timeout: float = 180.0) -> None:
    """For the probe-less drain: poll (10 ms) until the backend reports no ready and no leased task."""

    async def poll() -> None:
        backend = new_backend()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                stats = await backend.stats()
                if stats.total_ready == 0 and stats.total_processing == 0:
                    return
                await asyncio.sleep(0.01)
            raise RuntimeError(f"the probe-less drain did not finish within {timeout}s")
        finally:
            await backend.close()

    run_async(poll())


def resume_prefix() -> None:
    async def go() -> None:
        backend = new_backend()
        try:
            await backend.resume()
        finally:
            await backend.close()

    run_async(go())


def fill_paused(fill: str, n: int = N) -> float:
    """Pause the run's prefix and enqueue n noop tasks (``one``: one by one, ``many``: enqueue_many)."""

    async def go() -> float:
        backend = new_backend()
        try:
            await backend.pause()
            batch = tasks("noop", n)
            if fill == "one":
                return await pyworker_enqueue_one_by_one(backend, batch)
            return await pyworker_enqueue_many(backend, batch)
        finally:
            await backend.close()

    return float(run_async(go()))


def pyworker_drain(client: redis.Redis, flags: list[str], mode: str = "async", fill: str = "many",
                   processes: int = 1, env: dict[str, str] | None = None) -> tuple[float, float, float]:  # fmt: skip
    """Fill a paused prefix with N tasks, start the worker(s), resume, time the drain.

    ``mode`` is the handler's (bench/durable_app.py): ``async`` the shared probe with
    redis.asyncio, ``bare`` nothing at all (completion seen by polling the backend's
    stats). Returns (enqueue rate of the fill, drain tasks/s, worker RSS MiB).
    """
    reset_probe(client)
    rate = fill_paused(fill)
    waiter = wait_empty if mode == "bare" else None
    drained, rss = timed_drain("pyworker", client, resume_prefix, N, {"DURABLE_BENCH_PROBE_MODE": mode, **(env or {})},
                               waiter, flags, processes)  # fmt: skip
    return rate, drained, rss


def pyworker_round(client: redis.Redis, results: dict[str, list[float]]) -> None:
    """One round of every pyworker figure but latency: enqueue one by one, bulk, and the drains."""
    rate, drained, rss = pyworker_drain(client, TUNED_FLAGS, fill="one")
    results["enqueue_one"].append(rate)
    results["drain"].append(drained)
    results["rss_tuned"].append(rss)

    async def bulk() -> tuple[float, float]:
        backend = new_backend(ENQ_PREFIX)
        try:
            many = await pyworker_enqueue_many(backend, tasks("noop", N))
            register = await pyworker_register_many(backend, tasks("noop", N))
            return many, register
        finally:
            await backend.close()

    many, register = run_async(bulk())
    results["enqueue_many"].append(many)
    results["register_many"].append(register)
    delete_keys(client, [f"{{{ENQ_PREFIX}}}*"])
    _, drained, rss = pyworker_drain(client, DEFAULT_FLAGS)
    results["drain_default"].append(drained)
    results["rss"].append(rss)
    results["drain_bare"].append(pyworker_drain(client, TUNED_FLAGS, mode="bare")[1])
    results["drain_two"].append(pyworker_drain(client, TUNED_FLAGS, processes=2)[1])


def floor_round(client: redis.Redis, results: dict[str, list[float]]) -> None:
    reset_probe(client)
    client.delete(BRPOP_QUEUE)
    results["evalsha_one"].append(run_async(evalsha_one_by_one(N)))
    results["enqueue_one"].append(run_async(lpush_one_by_one(N)))
    drained, rss = timed_drain("brpop", client, lambda: client.lpush(GO, b"1"))
    results["drain"].append(drained)
    results["rss"].append(rss)
    results["enqueue_many"].append(run_async(lpush_pipelined(N, f"{PROBE}:brpop-pipelined")))
    client.delete(BRPOP_QUEUE)


def huey_round(client: redis.Redis, results: dict[str, list[float]]) -> None:
    reset_probe(client)
    durable_baselines.huey.flush()
    results["enqueue_one"].append(huey_enqueue_one_by_one(N))
    drained, rss = timed_drain("huey", client, lambda: client.lpush(GO, b"1"))
    results["drain"].append(drained)
    results["rss"].append(rss)


def peer_round(client: redis.Redis, peer: str, results: dict[str, list[float]]) -> None:
    reset_probe(client)
    results["enqueue_one"].append(float(peer_call(peer, "enqueue", n=PEER_N)["rate"]))
    drained, rss = timed_drain(peer, client, lambda: client.lpush(GO, b"1"), PEER_N)
    results["drain"].append(drained)
    results["rss"].append(rss)
    delete_keys(client, [f"*{PEER_NAME}*"])


# -- 3. idle pickup latency and start-up ----------------------------------------------------------


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


def latencies(client: redis.Redis, peers: list[str]) -> dict[str, tuple[float, float]]:
    """Median over runs of p50 and p99, in ms, per system. pyworker runs with its defaults."""
    out: dict[str, tuple[float, float]] = {}
    for kind in ("pyworker", "brpop", "huey", *peers):
        reset_probe(client)
        with consumer(kind, 0, flags=DEFAULT_FLAGS):
            client.lpush(GO, b"1")
            if kind == "pyworker":
                runs = run_async(pyworker_latency(REPEATS))
            elif kind == "brpop":
                runs = run_async(brpop_latency(REPEATS))
            elif kind == "huey":
                runs = huey_latency(client, REPEATS)
            else:
                runs = peer_call(kind, "latency", str(REPEATS))["runs"]
        if kind in PEERS:
            delete_keys(client, [f"*{PEER_NAME}*"])
        p50 = median([percentile(r, 0.50) for r in runs]) * 1000
        p99 = median([percentile(r, 0.99) for r in runs]) * 1000
        out[kind] = (p50, p99)
    return out


def startup_to_first_job(client: redis.Redis, kind: str) -> float:
    """Seconds from spawning the worker process until the probe of a task already waiting is seen."""
    reset_probe(client)
    if kind == "pyworker":

        async def one_echo() -> None:
            backend = new_backend()
            try:
                await backend.resume()
                await backend.enqueue(DurableTask(handler="echo", payload=PAYLOAD, id=uuid.uuid4()))
            finally:
                await backend.close()

        run_async(one_echo())
        argv, env = workerctl_argv(DEFAULT_FLAGS), {}
    else:  # Huey: the task waits in its list; the consumer skips the go key
        durable_baselines.echo()
        argv = [sys.executable, "-c", "import durable_baselines as b; b.main()", "huey"]
        env = {"DURABLE_BENCH_NO_GO": "1"}
    start = time.perf_counter()
    proc = Consumer(argv, "", env, wait_ready=False)
    try:
        if client.blpop([REPLY], timeout=30) is None:
            raise RuntimeError(f"{kind}: no first job within 30 s")
        return time.perf_counter() - start
    finally:
        proc.stop()


# -- 4. dequeue cost vs queue length, Redis memory per waiting task --------------------------------


async def dequeue_cost(client: redis.Redis) -> dict[str, Any]:
    """µs per dequeue(16) and per ack_many(16) with SMALL, then BIG tasks waiting; used_memory
    (INFO memory) before any task and with BIG waiting."""
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

        await backend.stats()  # connection and scripts, before the baseline reading
        used_before = int(client.info("memory")["used_memory"])
        await fill(SMALL)
        for _ in range(20):  # warm-up (script load, connections)
            await backend.ack_many(await backend.dequeue(DEQUEUE_LIMIT, 30))
            await backend.enqueue_many(tasks("noop", DEQUEUE_LIMIT))
        out["small"] = await measure()
        out["fill_rate"] = await fill(BIG - SMALL)
        stats = await backend.stats()
        out["big_waiting"] = stats.total_ready
        out["bytes_per_task"] = (int(client.info("memory")["used_memory"]) - used_before) / stats.total_ready
        out["big"] = await measure()
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
        pyworker_drain(client, TUNED_FLAGS, mode=mode, env={"DURABLE_BENCH_PROFILE": path})
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        stats: Any = pstats.Stats(path)
    finally:
        delete_keys(client, [f"{{{PREFIX}}}*"])
    what = {"async": "handler = redis.asyncio INCR probe", "bare": "handler does nothing (pyworker alone)"}[mode]
    print(f"\n== Profile: one pyworker drain of {N:,} tasks, {what}; cProfile in the worker "
          f"({' '.join(TUNED_FLAGS)}) ==")
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


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text} ...", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rate(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}/s"


class Targets:
    """Every figure with a target: printed where it is measured, and again in the summary table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def check(self, figure: str, value: str, reference: str, ratio: float | None, target: str, ok: bool) -> None:
        ratio_text = "" if ratio is None else f"{ratio:.3f}x"  # 3 decimals: 1.204x misses <= 1.2x
        self.rows.append((figure, value, reference, ratio_text, target, verdict(ok)))
        print(f"  -> {figure}: {value}" + (f" vs {reference}" if reference else "")
              + (f" = {ratio_text}" if ratio_text else "") + f"; target {target}: {verdict(ok)}")  # fmt: skip

    def table(self) -> None:
        print("| figure (one run, medians) | pyworker | reference | ratio | target | |")
        print("|---|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def report(results: dict[str, dict[str, list[float]]], peers: list[str], lat: dict[str, tuple[float, float]],
           startup: dict[str, float], extra: dict[str, float], deq: dict[str, Any]) -> None:  # fmt: skip
    med = {kind: {k: median(v) for k, v in r.items()} for kind, r in results.items()}
    py, bp, hu = med["pyworker"], med["brpop"], med["huey"]
    t = Targets()
    labels = {"huey": "Huey", "brpop": "BRPOP loop", **{p: PEERS[p]["label"] for p in peers}}

    def line(label: str, value: str, note: str = "") -> None:
        print(f"  {label:46} {value:>14}  {note}")

    print(f"== 1. Enqueue {N:,} no-op tasks, one producer (tasks/s, higher is better) ==")
    line("pyworker backend.enqueue, one by one", rate(py["enqueue_one"]), "one Lua script (EVALSHA) per task")
    line("floor: EVALSHA of a trivial script, one by one", rate(bp["evalsha_one"]),
         "new_redis_client, sequential awaits")  # fmt: skip
    line("LPUSH one by one (redis.asyncio)", rate(bp["enqueue_one"]))
    line("Huey, calling the task", rate(hu["enqueue_one"]), "sync LPUSH of a pickled message")
    for p in peers:
        line(f"{labels[p]}, one by one", rate(med[p]["enqueue_one"]), f"{PEER_N:,} tasks")
    t.check("enqueue one by one", rate(py["enqueue_one"]), f"EVALSHA {rate(bp['evalsha_one'])}",
            py["enqueue_one"] / bp["evalsha_one"], ">= 0.85x",
            py["enqueue_one"] >= 0.85 * bp["evalsha_one"])  # fmt: skip
    line(f"pyworker register_durable_tasks ({ENQUEUE_CHUNK:,}/call)", rate(py["register_many"]),
         "durable-mode TaskManager(durable_backend=...)")  # fmt: skip
    line(f"pyworker backend.enqueue_many ({ENQUEUE_CHUNK:,}/call)", rate(py["enqueue_many"]))
    line(f"floor: pipelined LPUSH ({ENQUEUE_CHUNK:,}/round trip)", rate(bp["enqueue_many"]))
    t.check("bulk through register_durable_tasks", rate(py["register_many"]),
            f"pipelined LPUSH {rate(bp['enqueue_many'])}", py["register_many"] / bp["enqueue_many"], ">= 0.5x",
            py["register_many"] >= 0.5 * bp["enqueue_many"])  # fmt: skip
    print(f"  (enqueue_many: {py['enqueue_many'] / bp['enqueue_many']:.2f}x pipelined LPUSH)")

    print("\n== 2. Drain pre-enqueued tasks with ONE worker process (tasks/s, higher is better) ==")
    line("pyworker, workerctl worker defaults", rate(py["drain_default"]), " ".join(DEFAULT_FLAGS))
    line("pyworker, tuned", rate(py["drain"]), " ".join(TUNED_FLAGS))
    line("pyworker, tuned, empty handler *", rate(py["drain_bare"]))
    line("pyworker, tuned, TWO worker processes", rate(py["drain_two"]))
    line("floor: BRPOP loop (sync redis-py)", rate(bp["drain"]))
    line(f"Huey ({HUEY_WORKERS} {HUEY_TYPE}s)", rate(hu["drain"]))
    for p in peers:
        line(labels[p], rate(med[p]["drain"]), f"{PEER_N:,} tasks")
    print(f"  {N:,} tasks ({PEER_N:,} for the async peers), timed from go (the queue is paused, or the consumer")
    print("  waits on a go key, until every consumer is ready) to the probe's done marker.")
    print("  * no probe: completion seen by polling the backend's stats every 10 ms.")
    t.check("drain, empty handler, one process", rate(py["drain_bare"]), "", None, ">= 35,000/s",
            py["drain_bare"] >= 35_000)  # fmt: skip
    best_peer = max(["huey", *peers], key=lambda k: med[k]["drain"])
    t.check("drain with the shared probe, one process", rate(py["drain"]), f"Huey {rate(hu['drain'])}",
            py["drain"] / hu["drain"], ">= 3x Huey", py["drain"] >= 3 * hu["drain"])  # fmt: skip
    print(f"  (best peer: {labels[best_peer]}, {rate(med[best_peer]['drain'])}: "
          f"{py['drain'] / med[best_peer]['drain']:.2f}x)")  # fmt: skip
    t.check("drain, workerctl worker defaults vs tuned", rate(py["drain_default"]), f"tuned {rate(py['drain'])}",
            py["drain_default"] / py["drain"], ">= 0.8x", py["drain_default"] >= 0.8 * py["drain"])  # fmt: skip
    t.check("two worker processes vs one", rate(py["drain_two"]), f"one {rate(py['drain'])}",
            py["drain_two"] / py["drain"], ">= 1.7x", py["drain_two"] >= 1.7 * py["drain"])  # fmt: skip
    print("  worker RSS after the drain (MiB): " + ", ".join(
        [f"pyworker defaults {py['rss']:.1f}", f"pyworker tuned {py['rss_tuned']:.1f}", f"BRPOP loop {bp['rss']:.1f}",
         f"Huey {hu['rss']:.1f}", *(f"{labels[p]} {med[p]['rss']:.1f}" for p in peers)]))  # fmt: skip
    t.check("worker RSS after the drain (defaults)", f"{py['rss']:.1f} MiB", f"Huey {hu['rss']:.1f} MiB", None,
            "<= 42 MiB", py["rss"] <= 42)  # fmt: skip
    print(f"  probe alone: {extra['probe_async']:,.0f} INCR/s from 64 concurrent coroutines (redis.asyncio), "
          f"{extra['probe_sync']:,.0f} INCR/s sequential sync redis-py")  # fmt: skip
    print(f"  one serial round trip (PING): redis.asyncio {extra['rtt_async']:.0f} µs with redis-py's default "
          f"socket_timeout (5 s), {extra['rtt_async_no_timeout']:.0f} µs with socket_timeout=None; "
          f"sync redis-py {extra['rtt_sync']:.0f} µs")  # fmt: skip

    print(f"\n== 3. Idle pickup latency, {LATENCY_N} sequential tasks x {REPEATS} (ms, lower is better); start-up ==")
    print(f"  {'':30} {'p50':>8} {'p99':>8}")
    for kind in ("pyworker", "brpop", "huey", *peers):
        name = "pyworker (defaults)" if kind == "pyworker" else labels[kind]
        print(f"  {name:30} {lat[kind][0]:8.3f} {lat[kind][1]:8.3f}")
    print("  From just before the enqueue until the handler's LPUSHed reply is received by the producer's BLPOP;")
    print("  the consumer idles (blocked) before each task.")
    (p50, p99), (b50, _), (h50, _) = lat["pyworker"], lat["brpop"], lat["huey"]
    t.check("idle pickup p50 vs Huey", f"{p50:.3f} ms", f"Huey {h50:.3f} ms", p50 / h50, "<= 1x (no slower)",
            p50 <= h50)  # fmt: skip
    t.check("idle pickup p50 vs the BRPOP loop", f"{p50:.3f} ms", f"BRPOP {b50:.3f} ms", p50 / b50, "<= 1.3x",
            p50 <= 1.3 * b50)  # fmt: skip
    t.check("idle pickup p99 vs its own p50", f"{p99:.3f} ms", f"p50 {p50:.3f} ms", p99 / p50, "<= 2x",
            p99 <= 2 * p50)  # fmt: skip
    print(f"  start-up to first job (median of {STARTUP_RUNS}): from spawning the process, one task already waiting,")
    print("  until its probe (an LPUSHed reply) is seen: "
          f"pyworker {startup['pyworker']:.3f} s (workerctl worker {' '.join(DEFAULT_FLAGS)}), "
          f"Huey {startup['huey']:.3f} s")  # fmt: skip
    t.check("start-up to first job", f"{startup['pyworker']:.3f} s", f"Huey {startup['huey']:.3f} s", None,
            "<= 0.25 s", startup["pyworker"] <= 0.25)  # fmt: skip

    print("\n== 4. Redis backend: dequeue cost vs queue length, memory per waiting task ==")
    (s_deq, s_ack), (b_deq, b_ack) = deq["small"], deq["big"]
    print(f"  {'µs per call':40} {f'{SMALL:,} waiting':>14} {f'{BIG:,} waiting':>16} {'ratio':>7}")
    print(f"  {f'dequeue({DEQUEUE_LIMIT}, 30s)':40} {s_deq:14.0f} {b_deq:16.0f} {b_deq / s_deq:6.2f}x")
    print(f"  {f'ack_many({DEQUEUE_LIMIT} leases)':40} {s_ack:14.0f} {b_ack:16.0f} {b_ack / s_ack:6.2f}x")
    print(f"  {DEQUEUE_CALLS} calls per run, the queue refilled (untimed) after each; {BIG:,} filled with "
          f"enqueue_many at {deq['fill_rate']:,.0f} tasks/s.")  # fmt: skip
    t.check(f"dequeue cost, {BIG:,} vs {SMALL:,} waiting", f"{b_deq:.0f} µs", f"{s_deq:.0f} µs", b_deq / s_deq,
            "<= 1.2x", b_deq / s_deq <= 1.2)  # fmt: skip
    print(f"  used_memory (INFO memory) grew {deq['bytes_per_task'] * deq['big_waiting'] / 2**20:,.0f} MiB with "
          f"{deq['big_waiting']:,} tasks waiting under the run's prefix (a shared server: other clients move it too)")
    t.check("Redis memory per waiting task", f"{deq['bytes_per_task']:.0f} B", "", None, "<= 400 B",
            deq["bytes_per_task"] <= 400)  # fmt: skip

    print("\n== Side by side (one run, medians; bench/README.md explains each row) ==")
    kinds = ["pyworker", "huey", *peers, "brpop"]
    names = ["pyworker", "Huey", *(labels[p] for p in peers), "BRPOP loop (floor)"]
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))

    def cells(values: list[str]) -> None:
        print("| " + " | ".join(values) + " |")

    cells(["enqueue one by one (tasks/s)", *(f"{med[k]['enqueue_one']:,.0f}" for k in kinds[:-1]),
           f"{bp['evalsha_one']:,.0f} (EVALSHA)"])  # fmt: skip
    cells(["enqueue in bulk (tasks/s)", f"{py['register_many']:,.0f} (register_durable_tasks), "
           f"{py['enqueue_many']:,.0f} (enqueue_many)", *("—" for _ in kinds[1:-1]),
           f"{bp['enqueue_many']:,.0f} (pipelined LPUSH)"])  # fmt: skip
    cells(["drain, one process (tasks/s)", f"{py['drain']:,.0f} tuned, {py['drain_default']:,.0f} defaults",
           *(f"{med[k]['drain']:,.0f}" for k in kinds[1:])])  # fmt: skip
    cells(["idle pickup p50 / p99 (ms)", *(f"{lat[k][0]:.2f} / {lat[k][1]:.2f}" for k in kinds)])
    cells(["worker RSS after the drain (MiB)", f"{py['rss']:.0f}", *(f"{med[k]['rss']:.0f}" for k in kinds[1:])])
    print(f"\n== Summary: the targets of issue 10 (`make bench-durable`, {N:,} tasks, medians of {REPEATS}) ==")
    t.table()
    print("| in-memory async, register + drain and drain only | see `make bench-inmemory` | | | >= 0.5x | |")


def main() -> int:
    client = sync_client()
    server = client.info("server")
    print("pyworker durable benchmark (Redis)")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), redis-py {redis.__version__}, "
          f"hiredis {hiredis.__version__}, huey {huey_pkg.__version__}")  # fmt: skip
    print(f"Redis server {server['redis_version']} at {URL} (redis-cli INFO server); {os.cpu_count()} CPUs; "
          f"each figure is the median of {REPEATS} run(s); {N:,} tasks per throughput run")  # fmt: skip
    peers = [] if NO_PEERS or TELEMETRY or FEATURES or PROFILE_ONLY else [p for p in PEERS if peer_python(p)]
    print(f"pyworker worker: workerctl worker --app durable_app:registry, defaults: {' '.join(DEFAULT_FLAGS)}; "
          f"tuned: {' '.join(TUNED_FLAGS)}")  # fmt: skip
    print("pyworker producer: RedisDurableBackend(new_redis_client(url)) with its defaults; bulk also through "
          "TaskManager(durable_backend=backend, durable_handlers=registry, durable_codec=JsonDurableCodec())"
          ".register_durable_tasks")  # fmt: skip
    print("BRPOP loop: one process, sync redis-py, BRPOP + INCR per task (bench/durable_baselines.py)")
    print(f"Huey: RedisHuey (blocking BRPOP), Consumer(workers={HUEY_WORKERS}, worker_type={HUEY_TYPE!r}, "
          "periodic=False); producer calls the task (one LPUSH each)")  # fmt: skip
    for p in peers:
        print(f"{PEERS[p]['label']}: {peer_call(p, 'version')} (own venv .cache/bench-peers/{p}, "
              f"{PEER_REQUIREMENTS[p].relative_to(ROOT)}); {PEERS[p]['setting']}")  # fmt: skip
    print("Probe (all): each task INCRs a counter; the N-th LPUSHes a done marker the bench BLPOPs.\n")
    sys.stdout.flush()
    results: dict[str, dict[str, list[float]]] = {
        kind: collections.defaultdict(list) for kind in ("pyworker", "brpop", "huey", *peers)
    }
    began = time.perf_counter()
    try:
        if TELEMETRY:
            telemetry_overhead(client, results["pyworker"])
            return 0
        if FEATURES:
            feature_costs(client)
            return 0
        if PROFILE_ONLY:
            profile_drain(client, "bare")
            profile_drain(client, "async")
            profile_producer(client)
            return 0
        for round_no in range(REPEATS):  # interleaved, so drift in machine load hits every system alike
            progress(f"round {round_no + 1}/{REPEATS}: floors, pyworker, Huey, {', '.join(peers) or 'no peers'}")
            floor_round(client, results["brpop"])
            pyworker_round(client, results["pyworker"])
            huey_round(client, results["huey"])
            for p in peers:
                peer_round(client, p, results[p])
        progress("idle pickup latency, start-up")
        lat = latencies(client, peers)
        startup = {kind: median([startup_to_first_job(client, kind) for _ in range(STARTUP_RUNS)])
                   for kind in ("pyworker", "huey")}  # fmt: skip
        extra = {
            "probe_async": median([run_async(probe_alone_async(64)) for _ in range(REPEATS)]),
            "probe_sync": median([probe_alone_sync(client) for _ in range(REPEATS)]),
            "rtt_async": median([run_async(round_trip_us()) for _ in range(REPEATS)]),
            "rtt_async_no_timeout": median([run_async(round_trip_us(socket_timeout=None)) for _ in range(REPEATS)]),
            "rtt_sync": median([round_trip_sync_us(client) for _ in range(REPEATS)]),
        }
        progress(f"dequeue cost and Redis memory with {BIG:,} tasks waiting")
        deq = run_async(dequeue_cost(client))
        delete_keys(client, [f"{{{DEQ_PREFIX}}}*"])
        report(results, peers, lat, startup, extra, deq)
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
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_MAX_QUEUE_SIZE": str(4 * N)}
        for _ in range(REPEATS):
            results["drain_plain"].append(pyworker_drain(client, TUNED_FLAGS)[1])
            results["drain_otel"].append(pyworker_drain(client, [*TUNED_FLAGS, *TELEMETRY_FLAGS], env=otel)[1])
    off, on = median(results["drain_plain"]), median(results["drain_otel"])
    overhead = (1 - on / off) * 100
    print(f"== Drain {N:,} pre-enqueued tasks, one worker, telemetry off vs on (tasks/s, median of {REPEATS}) ==")
    print(f"{'telemetry off':40} {off:>9,.0f}   runs: {', '.join(f'{v:,.0f}' for v in results['drain_plain'])}")
    print(f"{'telemetry on (' + ' '.join(TELEMETRY_FLAGS) + ')':40} {on:>9,.0f}   runs: "
          f"{', '.join(f'{v:,.0f}' for v in results['drain_otel'])}")  # fmt: skip
    print(f"overhead {overhead:.1f}% (target < 15%: {verdict(overhead < 15)}); spans go over OTLP/HTTP to a sink "
          "on 127.0.0.1 that discards them (OTEL_BSP_MAX_QUEUE_SIZE raised so none is dropped)")  # fmt: skip



# The cluster features of docs/cluster.md as the worker flags that turn them on; "off" is every
# feature at its cheapest (cancellation has no switch: every row listens on P:cancel). The limits
# are far above what the drain reaches, so only what enforcing them costs shows.
_FAR = ["--global-rate-limit", "10000000:10000000", "--queue-concurrency", "default=1000000"]
FEATURE_FLAGS = {
    "off (results off, no limits)": ["--result-ttl", "0"],
    "results on (the default --result-ttl 10m)": [],
    "limits on (results off)": ["--result-ttl", "0", *_FAR],
    "results and limits on": _FAR,
}


def feature_costs(client: redis.Redis) -> None:
    """Drain (async probe) and idle pickup with each cluster feature off and on, interleaved in one run."""
    drains: dict[str, list[float]] = collections.defaultdict(list)
    pickups: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    stored_limits = [f"{{{PREFIX}}}:limits", f"{PREFIX}:global_rate"]  # kept by the store: cleared per row
    for round_no in range(REPEATS):
        for name, flags in FEATURE_FLAGS.items():
            progress(f"features round {round_no + 1}/{REPEATS}: {name}")
            client.delete(*stored_limits)
            drains[name].append(pyworker_drain(client, [*TUNED_FLAGS, *flags])[1])
            reset_probe(client)
            with consumer("pyworker", 0, flags=[*DEFAULT_FLAGS, *flags]):
                client.lpush(GO, b"1")
                runs = run_async(pyworker_latency(1))
            pickups[name].append((percentile(runs[0], 0.50) * 1000, percentile(runs[0], 0.99) * 1000))
            client.delete(*stored_limits)
    base = median(drains[next(iter(FEATURE_FLAGS))])
    print(f"== Cluster features: drain of {N:,} tasks (tuned worker, tasks/s) and idle pickup "
          f"({LATENCY_N} sequential tasks, default worker), medians of {REPEATS} ==")  # fmt: skip
    print(f"{'configuration':44} {'drain/s':>9} {'vs off':>7} {'pickup p50':>11} {'p99':>9}")
    for name in FEATURE_FLAGS:
        drain = median(drains[name])
        p50 = median([p for p, _ in pickups[name]])
        p99 = median([q for _, q in pickups[name]])
        runs = ", ".join(f"{value:,.0f}" for value in drains[name])
        print(f"{name:44} {drain:>9,.0f} {drain / base:>6.2f}x {p50:>8.3f} ms {p99:>6.2f} ms   drains: {runs}")
    for name, flags in FEATURE_FLAGS.items():
        print(f"  {name}: workerctl worker {' '.join([*TUNED_FLAGS, *flags])}")


if __name__ == "__main__":
    sys.exit(main())
