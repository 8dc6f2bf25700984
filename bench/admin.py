"""Admin page load benchmark (`make bench-admin`): the web admin page with 1,000,000 tasks waiting.

Fills a prefix of its own on the Redis at 127.0.0.1:6379 (ADMIN_BENCH_REDIS_URL to change it)
through the real backend (enqueue_many; the dead and processing tasks through dequeue and
fail), starts a real ``workerctl admin`` process signed in with a token (``Authorization:
Bearer``), and times its pages with httpx: p50 / p95 / p99 of each, one client after
another, then a few clients at once, each against the 200 ms p95 target (issue 12). Prints
figures and met / MISSED, never asserts speed, exits 0; deletes its keys at the end (SCAN
+ UNLINK of its prefix, never a flush). See bench/README.md for what each figure means.

Options: ``--quick`` (100,000 waiting tasks, fewer samples), ``--tasks N`` (N waiting
tasks), ``--samples N`` (requests per figure and client), ``--clients N`` (the concurrent
clients, 4 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import html
import json
import os
import platform
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: `python bench/admin.py`
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import redis  # noqa: E402
from bench_process import BenchProcess  # noqa: E402

from pyworker.adapters.redis import RedisDurableBackend, new_redis_client  # noqa: E402
from pyworker.domain import DurableTask, cursor_at  # noqa: E402

URL = os.environ.get("ADMIN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_MS = 200.0  # p95 of every page (issue 12)
PAGE_SIZE = 100  # the task browser's page (AdminWebConfig.page_size's default)
DEEP_PAGES = 100  # "a deep page": the one reached by following Next this many times (fewer in a small store)
ENQUEUE_CALL = 10_000  # tasks per enqueue_many call (the backend sends them 1,000 per script, one pipeline)
LEASE = 3600.0  # the processing tasks' lease: none expires during the run

RUN = uuid.uuid4().hex[:12]
PREFIX = f"pyworker-bench-admin-{RUN}"  # keys: {pyworker-bench-admin-RUN}:...
KEY_PATTERN = "{" + PREFIX + "}:*"
TOKEN = secrets.token_urlsafe(24)
BIG_PAYLOAD = 64 * 1024  # the exports queue's payloads: a page of them is 6.4 MB of payload
PAYLOAD = json.dumps({"to": "someone@example.com", "subject": "Your invoice", "amount": 4200}).encode()
TASK_LINK = re.compile(r'href="/task/([0-9a-f-]{36})"')
NEXT_LINK = re.compile(r'href="([^"]+)" rel="next"')


#: The smallest --tasks: its DLQ (5%) fills two pages, so a deep DLQ page exists.
MIN_TASKS = 20 * 2 * PAGE_SIZE


# -- the store ------------------------------------------------------------------------------------


def plan(waiting: int) -> dict[str, int]:
    """How many tasks go where: ``waiting`` ready or delayed in three queues; besides, a DLQ of 5%
    of that (from two queues), 0.5% processing (leased, on long leases) and, in a fourth queue,
    up to 1,000 ready tasks whose payloads are BIG_PAYLOAD bytes.
    """
    dead, processing = max(waiting // 20, 4), max(waiting // 200, 2)
    exports = max(PAGE_SIZE, min(1000, waiting // 1000))  # besides: tasks of BIG_PAYLOAD bytes each
    delayed = waiting // 10
    ready_emails, ready_reports = waiting * 15 // 100, waiting * 15 // 100
    return {
        "dead_emails": dead // 2, "dead_reports": dead - dead // 2, "processing_reports": processing,
        "ready_default": waiting - delayed - ready_emails - ready_reports, "ready_emails": ready_emails,
        "ready_reports": ready_reports, "ready_exports": exports,
        "delayed_emails": delayed // 2, "delayed_reports": delayed - delayed // 2,
    }  # fmt: skip


def total_ready(counts: dict[str, int]) -> int:
    return sum(count for name, count in counts.items() if name.startswith("ready_"))


def deep_pages(counts: dict[str, int]) -> int:
    """How many times the walks follow Next: DEEP_PAGES, or fewer where the DLQ is shorter (the
    page reached must be full)."""
    dead = counts["dead_emails"] + counts["dead_reports"]
    return max(1, min(DEEP_PAGES, dead // PAGE_SIZE - 1))


def task(queue: str, n: int, *, retries: int = 3, run_at: float | None = None) -> DurableTask:
    """A task as an application sends one: a JSON payload, a little metadata, a few priorities."""
    return DurableTask(handler=f"{queue}.send", payload=PAYLOAD, id=uuid.uuid4(), queue=queue, priority=n % 3,
                       retries=retries, run_at=run_at, metadata={"tenant": f"t{n % 50}"})  # fmt: skip


def export_task(n: int) -> DurableTask:
    payload = json.dumps({"report": n, "rows": "x" * BIG_PAYLOAD}).encode()[:BIG_PAYLOAD]
    return DurableTask(handler="exports.build", payload=payload, id=uuid.uuid4(), queue="exports")


def delayed_task(queue: str, base: float, n: int) -> DurableTask:
    return task(queue, n, run_at=base + n)  # one second apart: the delayed set's order is the fill's


async def enqueue(backend: RedisDurableBackend, make: Callable[[int], DurableTask], count: int) -> None:
    """``count`` tasks through enqueue_many, two producers at once (one encodes while the other waits)."""

    async def producer(start: int, stop: int) -> None:
        for i in range(start, stop, ENQUEUE_CALL):
            outcomes = await backend.enqueue_many([make(n) for n in range(i, min(i + ENQUEUE_CALL, stop))])
            bad = [o for o in outcomes if isinstance(o, BaseException)]
            if bad:
                raise RuntimeError(f"enqueue_many refused {len(bad)} tasks: {bad[0]}")

    half = count // 2
    await asyncio.gather(producer(0, half), producer(half, count))


async def lease_all(backend: RedisDurableBackend, count: int, settle: bool) -> None:
    """Dequeue ``count`` tasks (the only ones ready); ``settle``: fail each (retries 0: to the DLQ)."""
    left = count
    while left > 0:
        leases = await backend.dequeue(min(left, 1000), LEASE)
        if not leases:
            raise RuntimeError(f"dequeue found {left} tasks fewer than enqueued")
        left -= len(leases)
        if settle:
            for i in range(0, len(leases), 50):  # 50 scripts in flight: one small pool of connections
                await asyncio.gather(*(backend.fail(lease, "SMTP 550: mailbox unavailable")
                                       for lease in leases[i : i + 50]))  # fmt: skip


async def fill(counts: dict[str, int]) -> float:
    """Put ``counts`` in the store; returns the seconds it took. The DLQ and processing tasks come
    first, while their queues hold nothing else, so dequeue leases exactly them."""
    backend = RedisDurableBackend(new_redis_client(URL), prefix=PREFIX, close_client=True)
    start = time.perf_counter()
    try:
        later = time.time() + 7 * 24 * 3600
        for queue in ("emails", "reports"):
            await enqueue(backend, functools.partial(task, queue, retries=0), counts[f"dead_{queue}"])
            await lease_all(backend, counts[f"dead_{queue}"], settle=True)
        await enqueue(backend, functools.partial(task, "reports"), counts["processing_reports"])
        await lease_all(backend, counts["processing_reports"], settle=False)
        for queue in ("default", "emails", "reports"):
            progress(f"  {counts[f'ready_{queue}']:,} ready in {queue}")
            await enqueue(backend, functools.partial(task, queue), counts[f"ready_{queue}"])
        progress(f"  {counts['ready_exports']:,} ready in exports, {BIG_PAYLOAD // 1024} KiB payloads")
        await enqueue(backend, export_task, counts["ready_exports"])
        for queue in ("emails", "reports"):
            progress(f"  {counts[f'delayed_{queue}']:,} delayed in {queue}")
            await enqueue(backend, functools.partial(delayed_task, queue, later), counts[f"delayed_{queue}"])
        stats = await backend.stats()
    finally:
        await backend.close()
    expected = {
        "ready": total_ready(counts),
        "delayed": counts["delayed_emails"] + counts["delayed_reports"],
        "processing": counts["processing_reports"],
        "dead": counts["dead_emails"] + counts["dead_reports"],
    }
    stored = {"ready": stats.total_ready, "delayed": stats.total_delayed, "processing": stats.total_processing,
              "dead": stats.dead}  # fmt: skip
    if stored != expected:
        raise RuntimeError(f"the store holds {stored}, the plan was {expected}")
    return time.perf_counter() - start


def delete_keys(client: redis.Redis) -> int:
    deleted, batch = 0, []
    for key in client.scan_iter(match=KEY_PATTERN, count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            deleted += client.unlink(*batch)
            batch = []
    if batch:
        deleted += client.unlink(*batch)
    return deleted


# -- the admin process ----------------------------------------------------------------------------


class AdminProcess(BenchProcess):
    """A real ``workerctl admin`` on a free loopback port, signed in by a token; stop() always runs."""

    def __init__(self) -> None:
        argv = [str(Path(sys.executable).with_name("workerctl")), "admin", "--redis-url", URL,
                "--redis-prefix", PREFIX, "--listen", "127.0.0.1:0"]  # fmt: skip
        env = {**os.environ, "PYWORKER_ADMIN_TOKEN": TOKEN}  # the token in the environment, as docs/admin.md says
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)  # fmt: skip
        self.log: list[str] = []
        self.url = ""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            match = re.match(r"admin ready on (\S+)", line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"workerctl admin exited before it was ready:\n{''.join(self.log)}")
        self.drain_rest()


@contextlib.contextmanager
def admin_process() -> Iterator[AdminProcess]:
    admin = AdminProcess()
    try:
        yield admin
    finally:
        admin.stop()


# -- measuring ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


class Figure:
    """One timed path: its latencies (ms), one client after another and several at once."""

    def __init__(self, name: str, paths: list[str], check: Callable[[httpx.Response], None]) -> None:
        self.name, self.paths, self.check = name, paths, check
        self.sequential: list[float] = []
        self.concurrent: list[float] = []

    def p95(self) -> float:
        """The worse p95 of the two runs: the figure the target is checked against."""
        return max(percentile(self.sequential, 0.95), percentile(self.concurrent, 0.95) if self.concurrent else 0.0)


async def timed(client: httpx.AsyncClient, path: str, check: Callable[[httpx.Response], None]) -> float:
    start = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:  # a broken page is not a fast page: stop here, loudly
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    check(response)
    return elapsed


async def measure(client: httpx.AsyncClient, figure: Figure, samples: int, clients: int) -> None:
    """``samples`` requests from one client, then ``samples`` from each of ``clients`` clients at once;
    the paths are taken in turn (a figure with several paths spreads over them)."""
    for i in range(samples):
        figure.sequential.append(await timed(client, figure.paths[i % len(figure.paths)], figure.check))

    async def one_client(offset: int) -> None:
        for i in range(samples):
            path = figure.paths[(offset + i) % len(figure.paths)]
            figure.concurrent.append(await timed(client, path, figure.check))

    await asyncio.gather(*(one_client(c * 7) for c in range(clients)))


def rows(expected: int) -> Callable[[httpx.Response], None]:
    """A check that a task browser page lists ``expected`` tasks."""

    def check(response: httpx.Response) -> None:
        found = len(TASK_LINK.findall(response.text))
        if found != expected:
            raise RuntimeError(f"{response.request.url} listed {found} tasks, not {expected}")

    return check


def rows_any(response: httpx.Response) -> None:
    """A task browser page, however many tasks it lists (a queue-filtered DLQ page may be short)."""
    if 'id="tasks"' not in response.text:
        raise RuntimeError(f"{response.request.url} is not a task list")


def contains(text: str) -> Callable[[httpx.Response], None]:
    def check(response: httpx.Response) -> None:
        if text not in response.text:
            raise RuntimeError(f"{response.request.url} does not show {text!r}")

    return check


def next_path(text: str) -> str | None:
    match = NEXT_LINK.search(text)
    return html.unescape(match.group(1)) if match else None


async def walk(client: httpx.AsyncClient, path: str, pages: int) -> tuple[str, list[float], list[str]]:
    """Follow "Next page" ``pages`` times from ``path``: the page reached, each step's ms, the ids seen."""
    times: list[float] = []
    ids: list[str] = []
    for _ in range(pages):
        start = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        ids += TASK_LINK.findall(response.text)
        following = next_path(response.text)
        if following is None:
            raise RuntimeError(f"{path}: no next page after {len(times)} pages")
        path = following
    return path, times, ids


async def gateway_paths(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """The JSON gateway's figures when this checkout serves /admin/v1 (a 404: not merged yet)."""
    found = []
    for path in ("/admin/v1/overview", "/admin/v1/queues"):
        response = await client.get(path)
        if response.status_code == 200:
            found.append((f"gateway GET {path}", path))
    return found


async def run_figures(admin: AdminProcess, counts: dict[str, int], samples: int, clients: int) -> list[Figure]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=clients + 1)
    async with httpx.AsyncClient(base_url=admin.url, headers=headers, limits=limits, timeout=30) as client:
        pages = deep_pages(counts)
        deep: dict[str, str] = {}
        ids: list[str] = []
        next_ms: list[float] = []
        for state in ("ready", "delayed", "dead"):
            progress(f"following Next {pages} times through {state}")
            deep[state], times, seen = await walk(client, f"/tasks/{state}", pages)
            next_ms += times
            ids += seen
        last_ready = f"/tasks/ready?cursor={cursor_at(total_ready(counts) - PAGE_SIZE)}"  # the last: reports
        random.seed(RUN)
        detail_ids = random.sample(ids, min(len(ids), 50))
        page = rows(PAGE_SIZE)
        figures = [
            Figure("overview GET /", ["/"], contains("reports")),
            Figure("ready, first page", ["/tasks/ready"], page),
            Figure(f"ready, page {pages + 1} (cursor after {pages} pages)", [deep["ready"]], page),
            Figure("ready, last page (cursor near 1 of N)", [last_ready], page),
            Figure("ready, one queue (?queue=reports)", ["/tasks/ready?queue=reports"], page),
            Figure(f"ready, {BIG_PAYLOAD // 1024} KiB payloads (?queue=exports)", ["/tasks/ready?queue=exports"], page),
            Figure("delayed, first page", ["/tasks/delayed"], page),
            Figure(f"delayed, page {pages + 1}", [deep["delayed"]], page),
            Figure("processing, first page", ["/tasks/processing"], rows(min(PAGE_SIZE, counts["processing_reports"]))),
            Figure("dead (DLQ), first page", ["/tasks/dead"], page),
            Figure(f"dead (DLQ), page {pages + 1}", [deep["dead"]], page),
            Figure("dead, one queue (?queue=reports)", ["/tasks/dead?queue=reports"], page),
            # emails' dead tasks sit behind every one of reports' (failed later, the DLQ is newest first):
            # the filter examines DLQ_SCAN_BUDGET entries and answers a short page with a cursor.
            Figure("dead, one queue behind another (?queue=emails)", ["/tasks/dead?queue=emails"], rows_any),
            Figure("search by id GET /task?id= (+ redirect)", [f"/task?id={i}" for i in detail_ids],
                   contains("Payload")),
            Figure("task detail GET /task/<id>", [f"/task/{i}" for i in detail_ids], contains("Payload")),
        ]  # fmt: skip
        client.follow_redirects = True
        for name, path in await gateway_paths(client):
            figures.append(Figure(name, [path], lambda _response: None))
        for figure in figures:
            progress(figure.name)
            await measure(client, figure, samples, clients)
        walk_figure = Figure(f"Next page, each step of the {pages}-page walks", [], page)
        walk_figure.sequential = next_ms
        return [*figures, walk_figure]


# -- report ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(figures: list[Figure], clients: int) -> None:
    head = f"{'p50':>7} {'p95':>7} {'p99':>7}"
    print(f"\n== Admin page latency (ms), target p95 < {TARGET_MS:.0f} ms ==")
    print(f"{'':46} {'one client':^23}  {f'{clients} clients at once':^23}")
    print(f"{'page':46} {head}  {head}  {'target':>9}")
    for f in figures:
        seq = f"{statistics.median(f.sequential):7.1f} {percentile(f.sequential, 0.95):7.1f} " \
              f"{percentile(f.sequential, 0.99):7.1f}"  # fmt: skip
        con = "" if not f.concurrent else (
            f"{statistics.median(f.concurrent):7.1f} {percentile(f.concurrent, 0.95):7.1f} "
            f"{percentile(f.concurrent, 0.99):7.1f}")  # fmt: skip
        print(f"{f.name:46} {seq}  {con:23}  {verdict(f.p95() < TARGET_MS):>9}")
    missed = [f.name for f in figures if f.p95() >= TARGET_MS]
    summary = f"{len(figures) - len(missed)} of {len(figures)} figures met the target"
    print(f"\n{summary} (p95 < {TARGET_MS:.0f} ms with one client and with {clients} at once)"
          + (f"; MISSED: {', '.join(missed)}" if missed else ""))  # fmt: skip


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/admin.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 waiting tasks, 50 samples per figure")
    parser.add_argument("--tasks", type=int, help="waiting tasks (ready + delayed); default 1,000,000")
    parser.add_argument("--samples", type=int, help="requests per figure and client; default 200 (--quick 50)")
    parser.add_argument("--clients", type=int, default=4, help="clients at once in the concurrent run (4)")
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (100_000 if args.quick else 1_000_000)
    args.samples = args.samples or (50 if args.quick else 200)
    if args.tasks < MIN_TASKS:
        parser.error(f"--tasks must be at least {MIN_TASKS:,} (a DLQ of two full pages)")
    if args.samples < 1 or args.clients < 1:
        parser.error("--samples and --clients must be positive")
    return args


def main(argv: list[str]) -> int:
    args = options(argv)
    counts = plan(args.tasks)
    client = redis.Redis.from_url(URL)
    server = client.info("server")
    print("pyworker admin page benchmark (make bench-admin)")
    print(f"Python {platform.python_version()}, httpx {httpx.__version__}, redis-py {redis.__version__}, "
          f"Redis {server['redis_version']} at {URL}; {os.cpu_count()} CPUs")  # fmt: skip
    dead = counts["dead_emails"] + counts["dead_reports"]
    print(f"store: {args.tasks:,} waiting ({counts['ready_default']:,} ready in default, {counts['ready_emails']:,} "
          f"ready + {counts['delayed_emails']:,} delayed in emails, {counts['ready_reports']:,} ready + "
          f"{counts['delayed_reports']:,} delayed in reports); besides, {dead:,} dead (two queues), "
          f"{counts['processing_reports']:,} processing, {counts['ready_exports']:,} ready in exports with "
          f"{BIG_PAYLOAD // 1024} KiB payloads (the others: {len(PAYLOAD)} bytes of JSON)")  # fmt: skip
    print(f"server: workerctl admin --listen 127.0.0.1:0 (one process, uvicorn), Authorization: Bearer; "
          f"{args.samples} requests per figure with one client, then {args.samples} from each of {args.clients} "
          f"clients at once (httpx.AsyncClient, keep-alive); page size {PAGE_SIZE}")  # fmt: skip
    sys.stdout.flush()
    try:
        used_before = int(client.info("memory")["used_memory"])
        progress(f"filling {args.tasks:,} waiting tasks")
        seconds = asyncio.run(fill(counts))
        total = sum(counts.values())
        used = (int(client.info("memory")["used_memory"]) - used_before) / 2**20
        print(f"filled {total:,} tasks in {seconds:.1f}s ({total / seconds:,.0f} tasks/s, enqueue_many "
              f"{ENQUEUE_CALL:,} per call, two producers); Redis used_memory +{used:,.0f} MiB")  # fmt: skip
        sys.stdout.flush()
        with admin_process() as admin:
            figures = asyncio.run(run_figures(admin, counts, args.samples, args.clients))
            rss = admin.rss_mib()
        report(figures, args.clients)
        print(f"workerctl admin RSS after the run: {rss:.0f} MiB")
    finally:
        progress("deleting the run's keys")
        deleted = delete_keys(client)
        print(f"deleted {deleted:,} keys ({KEY_PATTERN})")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
