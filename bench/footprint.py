"""Worker footprint: `workerctl worker` start-up, RSS and imports, this tree against another one.

    .venv/bin/python bench/footprint.py [--against /path/to/other/checkout] [--runs 5]

Starts ``workerctl worker --app durable_app:registry --codec json`` (the bench app,
no tuning flag) on a per-run Redis prefix and stops it once it printed its ready
banner; prints the median time from spawn to that banner, the worker's RSS then, and
the number of imports ``python -X importtime`` lists for it. With ``--against``, the
same worker runs the code of another checkout (put first on ``PYTHONPATH``, so it wins
over this venv's editable install), interleaved with this tree's run by run.
``make bench-durable`` measures start-up to the first job and RSS after a drain; this
script is the A/B for import-footprint changes (docs/adr/0017-lazy-workerctl-commands.md).
Needs the Redis on 127.0.0.1:6379 (DURABLE_BENCH_REDIS_URL); deletes its keys.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
URL = os.environ.get("DURABLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"pyworker-footprint-{uuid.uuid4().hex[:12]}"


def start_worker(tree: Path | None, importtime: bool = False) -> tuple[float, float, int]:
    """(seconds from spawn to the ready banner, RSS MiB at that moment, importtime lines)."""
    path = [str(tree)] if tree is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(BENCH)]), "DURABLE_BENCH_KEY": f"{PREFIX}:probe"}
    if importtime:
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    argv = [str(Path(sys.executable).with_name("workerctl")), "worker", "--app", "durable_app:registry",
            "--redis-url", URL, "--redis-prefix", PREFIX, "--codec", "json"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    imports = 0
    try:
        for line in proc.stderr:
            imports += line.startswith("import time:") and "| imported package" not in line
            if line.startswith("worker ready"):
                break
        else:
            raise RuntimeError(f"the worker exited before it was ready (tree {tree or ROOT})")
        ready = time.perf_counter() - start
        with open(f"/proc/{proc.pid}/status") as status:
            rss = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stderr.close()
    return ready, rss, imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout of pyworker (e.g. /work/main)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this tree": None}
    if args.against is not None:
        trees = {f"against {args.against}": args.against.resolve(), **trees}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    client = redis.Redis.from_url(URL)
    try:
        imports = {name: start_worker(tree, importtime=True)[2] for name, tree in trees.items()}
        for _ in range(args.runs):  # interleaved: machine noise hits both trees alike
            for name, tree in trees.items():
                samples[name].append(start_worker(tree)[:2])
    finally:
        for key in client.scan_iter(match=f"*{PREFIX}*", count=1000):
            client.unlink(key)
        client.close()
    print(f"workerctl worker --app durable_app:registry --codec json, median of {args.runs} (interleaved)")
    print(f"{'':34} {'spawn -> ready':>15} {'RSS at ready':>13} {'imports':>8}")
    for name, runs in samples.items():
        ready = statistics.median(r for r, _ in runs)
        rss = statistics.median(m for _, m in runs)
        print(f"{name:34} {ready:13.3f} s {rss:9.1f} MiB {imports[name]:8}")


if __name__ == "__main__":
    main()
