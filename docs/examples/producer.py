"""Example producer: enqueue durable tasks for the example worker (tasks.py) and print their ids."""

from __future__ import annotations

import argparse
import asyncio
import uuid

from google.protobuf import struct_pb2
from tasks import registry

from pyworker.domain import DurableTask
from pyworker.entrypoints.container import open_task_manager
from pyworker.entrypoints.redis_url import DEFAULT_REDIS_URL
from pyworker.entrypoints.settings import DEFAULT_REDIS_PREFIX
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload


def make_task(n: int) -> DurableTask:
    """Even numbers send an email, odd numbers resize an image."""
    if n % 2 == 0:
        email = SendEmailPayload(to=f"user{n}@example.com", subject="Welcome", body="Hello from pyworker")
        return DurableTask(handler="send_email", message=email, retries=3, retry_delay=2.0)
    job = struct_pb2.Struct()
    job.update({"image": f"photo-{n}.jpg", "width": 640})
    return DurableTask(handler="resize", message=job, queue="images", retries=1)


async def produce(count: int, redis_url: str, redis_prefix: str) -> list[uuid.UUID]:
    # The manager is only a producer here: it is never started, it validates each
    # task against the registry, encodes it with the proto codec and enqueues it.
    # Leaving the block closes the backend and its Redis connection.
    async with open_task_manager(
        backend="redis", redis_url=redis_url, redis_prefix=redis_prefix, durable_handlers=registry
    ) as manager:
        return await manager.register_durable_tasks([make_task(n) for n in range(count)])


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10, help="how many tasks to enqueue")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--redis-prefix", default=DEFAULT_REDIS_PREFIX, help="must match the worker's --redis-prefix (same default)"
    )
    return parser


def main() -> None:
    args = parser().parse_args()
    for task_id in asyncio.run(produce(args.count, args.redis_url, args.redis_prefix)):
        print(task_id)


if __name__ == "__main__":
    main()
