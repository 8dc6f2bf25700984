"""Cancellation across processes (docs/cluster.md#cancellation): a `workerctl worker` node B runs a long task;
gRPC CancelTask on a `workerctl serve` node A of the same prefix cancels it; B ends it Cancelled at once (it
polls every 5 s and leases for 60 s: only the notification is that quick), and GetTask on A reports Cancelled."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import grpc
import pytest
import redis

from pyworker.adapters.redis import RedisKeys
from pyworker.protos.worker.v1 import worker_pb2, worker_pb2_grpc
from tests.integration.test_worker_faults import SHARED_URL, enqueue, text
from tests.support.redis_servers import redis_available
from tests.support.serve_process import workerctl_serve
from tests.support.worker_process import ROOT, WorkerProcess

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.skipif(not redis_available(), reason="needs redis-server"),
]

#: Far below B's poll interval and lease; a bound on real time, not a speed assertion.
CANCEL_BOUND = 3.0


def test_a_task_running_on_a_worker_process_is_cancelled_through_another_nodes_grpc(redis_prefix: str) -> None:
    prefix, probe = redis_prefix, RedisKeys(redis_prefix).prefix + ":probe"  # both deleted by the fixture
    client = redis.Redis.from_url(SHARED_URL)
    env = {**os.environ, "FAULT_REDIS_URL": SHARED_URL, "FAULT_KEY": probe, "PYTHONPATH": str(ROOT)}
    b = WorkerProcess(
        ["--app", "tests.support.fault_app:registry", "--codec", "json", "--redis-url", SHARED_URL,
         "--redis-prefix", prefix, "--lease", "60s", "--poll", "5s", "--concurrency", "1"],
        env,
    )  # fmt: skip
    try:
        (task_id,) = enqueue(SHARED_URL, prefix, [{"hang_first": True}])
        started = client.blpop([f"{probe}:started"], timeout=30)
        assert started is not None
        assert text(started[1]) == str(task_id)
        # A starts once B holds the task, so that A (which serves every queue too) cannot lease it.
        with (
            workerctl_serve("--backend", "redis", "--redis-url", SHARED_URL, "--redis-prefix", prefix) as served,
            grpc.insecure_channel(served.target) as channel,
        ):
            stub: Any = worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
            stub.CancelTask(worker_pb2.CancelTaskRequest(id=str(task_id)), timeout=10)
            deadline = time.monotonic() + CANCEL_BOUND
            get = worker_pb2.GetTaskRequest(id=str(task_id))
            while (status := stub.GetTask(get, timeout=10)).status != "Cancelled":
                assert time.monotonic() < deadline, f"still {status.status} after {CANCEL_BOUND}s"
                time.sleep(0.05)
            assert status.error == "task cancelled"
            stub.CancelTask(worker_pb2.CancelTaskRequest(id=str(task_id)), timeout=10)  # finished: OK, a no-op
            with pytest.raises(grpc.RpcError) as unknown:
                stub.CancelTask(worker_pb2.CancelTaskRequest(id=str(uuid.uuid4())), timeout=10)
            assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
        assert int(client.get(f"{probe}:runs") or 0) == 0  # the attempt never finished, and never ran again
        assert b.stop() == 0
    finally:
        if b.process.poll() is None:
            b.kill()
        client.close()
