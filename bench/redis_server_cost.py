"""Redis server instructions per task for the durable scripts (docs/adr/0023-lua-script-server-cost.md).

Starts a private ``redis-server`` under ``valgrind --tool=callgrind`` on a free
127.0.0.1 port (never the shared server), drives it through ``RedisDurableQueue``
with a ManualClock, and prints instructions per unit: each workload runs twice,
with two sizes, and the difference is divided by the extra units, so start-up,
preload and shut-down cancel out. Deterministic (immune to machine load), slow
(about a minute). Needs ``redis-server`` and ``valgrind`` on PATH; prints a note
and exits 0 without them.

    .venv/bin/python bench/redis_server_cost.py            # this tree
    .venv/bin/python bench/redis_server_cost.py --root DIR  # another checkout (before/after)
    .venv/bin/python bench/redis_server_cost.py --results [WORKLOAD ...]  # outcomes recorded
                                                          # (docs/cluster.md#results); only those workloads

Workloads: ``drain64`` (3,840 tasks waiting, then dequeue(64) + ack_many(64);
per task), ``drain64x3`` (the same over three weighted queues), ``pickup``
(enqueue 1, dequeue(64), ack 1; per task), ``empty`` (dequeue(1) on nothing: the
fixed cost per call), ``dequeue1`` (dequeue(1) of a waiting task, no ack),
``ack1`` (one ack), ``enqueue1`` (one enqueue).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PRELOAD = 64 * 60
#: name -> (small N, large N, units per N)
WORKLOADS = {
    "drain64": (10, 40, 64), "drain64x3": (10, 40, 64), "pickup": (100, 300, 1), "empty": (100, 400, 1),
    "dequeue1": (100, 400, 1), "ack1": (50, 200, 1), "enqueue1": (100, 400, 1),
}  # fmt: skip


async def drive(work: str, n: int, port: int) -> None:
    """One workload of ``n`` units against 127.0.0.1:port (run in a child process)."""
    from pyworker.adapters.clock import ManualClock
    from pyworker.adapters.redis.client import new_redis_client
    from pyworker.adapters.redis.queue import RedisDurableQueue
    from pyworker.adapters.redis.store import RedisDurableStore
    from pyworker.domain import DurableTask

    def task(i: int, queue: str = "default") -> DurableTask:
        return DurableTask(handler="noop", payload=b"{}", id=uuid.UUID(int=i + 1), queue=queue)

    client = new_redis_client(f"redis://127.0.0.1:{port}")
    weights = {"a": 3, "b": 1, "c": 2} if work == "drain64x3" else None
    q = RedisDurableQueue(RedisDurableStore(client, "bench", ManualClock(1796124172.013)), weights)
    if os.environ.get("REDIS_COST_RESULTS"):
        await q.configure_results(600.0, 10_000, "bench-node-1")  # every ack records its outcome
    if work == "enqueue1":
        for i in range(n):
            await q.enqueue(task(i))
    elif work in ("drain64", "drain64x3"):
        queues = ("a", "b", "c") if work == "drain64x3" else ("default",)
        await q.enqueue_many([task(i, queues[i % len(queues)]) for i in range(PRELOAD)])
        for _ in range(n):
            leases = await q.dequeue(64, 30.0)
            assert len(leases) == 64
            assert not any(await q.ack_many(leases))
    elif work == "dequeue1":
        await q.enqueue_many([task(i) for i in range(PRELOAD)])
        for _ in range(n):
            assert len(await q.dequeue(1, 30.0)) == 1
    elif work == "ack1":
        await q.enqueue_many([task(i) for i in range(256)])
        leases = [lease for _ in range(4) for lease in await q.dequeue(64, 30.0)]
        for lease in leases[:n]:
            await q.ack(lease)
    elif work == "empty":
        await q.enqueue(task(0))
        await q.ack((await q.dequeue(1, 30.0))[0])
        for _ in range(n):
            assert not await q.dequeue(1, 30.0)
    elif work == "pickup":
        for i in range(n):
            await q.enqueue(task(i))
            (lease,) = await q.dequeue(64, 30.0)
            await q.ack(lease)
    await q.close()
    await client.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_instructions(root: Path, work: str, n: int, tmp: Path) -> int:
    """Start redis-server under callgrind, run the workload, stop it: its instruction count."""
    port = free_port()
    log = tmp / f"cg.{port}.log"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.{port}.out", "redis-server",
         "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("redis-server under valgrind did not start")
            time.sleep(0.2)
        env = dict(os.environ, PYTHONPATH=str(root))
        subprocess.run([sys.executable, __file__, "--drive", work, str(n), str(port)], check=True, env=env)
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        server.wait(timeout=60)
    match = re.search(r"Collected : (\d+)", log.read_text())
    if match is None:
        raise RuntimeError(f"no instruction count in {log}")
    return int(match.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--drive"]:
        asyncio.run(drive(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        return
    root = Path(__file__).resolve().parent.parent
    args = sys.argv[1:]
    if args[:1] == ["--root"]:
        root, args = Path(args[1]).resolve(), args[2:]
    if args[:1] == ["--results"]:
        os.environ["REDIS_COST_RESULTS"], args = "1", args[1:]
    workloads = {name: sizes for name, sizes in WORKLOADS.items() if not args or name in args}
    missing = [tool for tool in ("valgrind", "redis-server", "redis-cli") if shutil.which(tool) is None]
    if missing:
        print(f"redis_server_cost: needs {', '.join(missing)} on PATH; nothing measured")
        return
    results = "on" if os.environ.get("REDIS_COST_RESULTS") else "off"
    print(f"Redis server instructions (callgrind) per unit, scripts of {root}, results {results}")
    with tempfile.TemporaryDirectory() as tmp:
        for work, (small, large, units) in workloads.items():
            a = server_instructions(root, work, small, Path(tmp))
            b = server_instructions(root, work, large, Path(tmp))
            per = (b - a) / ((large - small) * units)
            print(f"  {work:<10} {per:>10,.0f} instructions per {'task' if units > 1 or work == 'pickup' else 'call'}")


if __name__ == "__main__":
    main()
