"""The durable ports' core contract cases on a real 3-node Redis Cluster (RedisCluster client)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.cluster import RedisCluster

from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.redis import RedisDurableBackend, RedisKeys
from pyworker.application import TaskManager, TypedDurableRegistry
from pyworker.domain import DurableState, DurableTask, TaskContext, TaskStatus
from tests.contract.conftest import DurableEnv, open_redis_env
from tests.contract.durable_support import make_task

# The contracts' own test functions, collected here again with this module's ``env``.
from tests.contract.test_admin_history import (  # noqa: F401
    test_a_bucket_keeps_its_first_sample_with_the_outcomes_settled_in_it,
    test_a_bucket_without_outcomes_counts_none_and_the_oldest_buckets_go,
)
from tests.contract.test_durable_cancel import (  # noqa: F401
    test_a_leased_task_is_flagged_and_every_subscriber_hears_it,
    test_a_nack_of_a_flagged_lease_dead_letters_it_instead_of_a_retry,
    test_a_ready_task_is_withdrawn_into_the_dlq_and_never_dequeued,
    test_an_expired_flagged_lease_is_not_delivered_again,
    test_lease_renewal_reports_the_flag_and_still_renews,
)
from tests.contract.test_durable_inspector import (  # noqa: F401
    test_dlq_pages_newest_first_whole_or_by_queue,
    test_list_pages_through_more_than_one_default_page,
    test_pause_and_resume_globally_and_per_queue,
    test_stats_get_and_list_tasks,
)
from tests.contract.test_durable_inspector_moves import (  # noqa: F401
    test_delete_takes_tasks_out_of_every_state,
    test_replay_dead_moves_the_oldest_first_up_to_the_limit,
    test_requeue_from_the_dlq_keeps_attempts_metadata_key_and_payload,
    test_requeue_to_another_queue_with_a_delay,
    test_restore_brings_back_every_record_exactly,
)
from tests.contract.test_durable_limits import (  # noqa: F401
    test_a_bucket_grants_its_burst_then_refills_by_time,
    test_a_capped_queue_never_has_more_leased_and_other_queues_are_served,
    test_a_node_without_limits_obeys_the_stored_ones,
    test_an_ack_that_frees_a_slot_of_a_capped_queue_wakes_an_idle_node,
)
from tests.contract.test_durable_queue import (  # noqa: F401
    test_delayed_task_becomes_ready_exactly_when_due,
    test_enqueue_many_and_ack_many_report_per_item,
    test_enqueue_many_handles_a_large_batch,
    test_exact_order_within_a_queue,
    test_expired_lease_is_redelivered_and_the_old_token_fenced,
    test_extend_many_renews_each_current_lease_in_one_call,
    test_fail_moves_the_task_to_the_dlq_newest_first,
    test_fail_with_an_exception_checks_the_token_first,
    test_fail_with_an_exception_keeps_its_text,
    test_nack_delays_the_retry,
    test_ping_answers_when_the_store_is_reachable,
    test_release_returns_unstarted_leases_without_counting_them,
    test_roundtrip_keeps_payload_metadata_and_key,
    test_stale_token_is_refused_and_changes_nothing,
    test_wait_for_work_is_woken_by_an_enqueue_from_another_client,
    test_weighted_round_robin_across_queues,
)
from tests.contract.test_durable_results import (  # noqa: F401
    test_a_reader_from_now_sees_only_later_outcomes_and_wakes_for_them,
    test_an_ack_records_the_outcome_and_one_stream_entry,
    test_fail_records_failed_and_cancelled_when_asked,
)
from tests.contract.test_node_registry import (  # noqa: F401
    test_a_heartbeat_is_listed_exactly_and_replaced_by_the_next,
    test_a_node_disappears_when_its_ttl_passes_without_a_beat,
    test_a_redis_record_expires_on_its_own,
    test_listing_pages_through_many_nodes,
    test_nodes_are_seen_by_every_client_of_the_store_sorted_by_id,
    test_remove_forgets_a_node_at_once_and_ignores_unknown_ids,
)
from tests.contract.test_schedule_store import (  # noqa: F401
    test_a_fired_tick_is_a_ready_task_stored_as_enqueue_stores_it,
    test_a_late_node_does_not_recreate_a_tick_whose_task_was_acked,
    test_history_is_newest_first_and_bounded,
    test_pause_one_or_all_is_shared_and_consumes_the_tick,
    test_skip_if_running_skips_while_the_previous_task_is_stored_and_not_dead,
    test_two_nodes_firing_the_same_tick_create_one_task,
)
from tests.support.redis_servers import HOST, RedisServer, redis_available, redis_cluster
from tests.support.waits import next_result, within

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    if not redis_available():
        pytest.skip("redis-server / redis-cli not installed")
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


@pytest.fixture
async def env(cluster_nodes: list[RedisServer]) -> AsyncIterator[DurableEnv]:
    def connect() -> RedisCluster:
        return RedisCluster(host=HOST, port=cluster_nodes[0].port)

    async def node_serving(key: str) -> redis.asyncio.Redis:
        probe = connect()
        try:
            await probe.initialize()
            node = probe.get_node_from_key(key)
            assert node is not None
            return redis.asyncio.Redis(host=node.host, port=int(node.port))
        finally:
            await probe.aclose()

    async with contextlib.AsyncExitStack() as stack:
        yield await open_redis_env("cluster", stack, connect, cleanup_node=node_serving)


async def test_every_key_of_a_prefix_lives_in_one_slot(env: DurableEnv, cluster_nodes: list[RedisServer]) -> None:
    await env.queue.configure_results(60.0, 100, "node")  # the outcome keys too
    await env.queue.enqueue(make_task(queue="a"))
    await env.queue.enqueue(make_task(queue="b", run_at=env.clock.now() + 60))
    limited = await env.limited(global_rate_limit=(5, 5), queue_concurrency={"a": 1})  # P:limits, the bucket
    [lease] = await limited.dequeue(1, 30.0)
    await limited.fail(lease, "boom")
    assert (await env.inspector.get(lease.task_id)).state is DurableState.DEAD

    slots: set[int] = set()
    for server in cluster_nodes:
        node = redis.asyncio.Redis(host=HOST, port=server.port)
        try:
            async for key in node.scan_iter(match=RedisKeys(env.prefix).pattern):
                slots.add(await node.execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
        finally:
            await node.aclose()
    assert len(slots) == 1


async def test_a_task_running_on_one_node_is_cancelled_from_another(cluster_nodes: list[RedisServer]) -> None:
    """docs/cluster.md#cancellation on the Cluster: the cancel script runs on the prefix's slot and its PUBLISH
    reaches the holder's subscription at once (B polls every 5 s)."""
    prefix = f"cluster-cancel-{uuid.uuid4().hex}"
    started = asyncio.Event()

    async def hang(ctx: TaskContext, message: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    registry = TypedDurableRegistry()
    registry.add("hang", dict, hang)
    backends = [RedisDurableBackend(RedisCluster(host=HOST, port=server.port), prefix=prefix, close_client=True)
                for server in cluster_nodes[:2]]  # fmt: skip
    b, a = (
        TaskManager(durable_backend=backend, durable_handlers=registry, durable_codec=JsonDurableCodec(),
                    durable_poll_interval=5.0, durable_queues=queues, tasks_per_second=0)
        for backend, queues in zip(backends, (None, ["elsewhere"]), strict=True)
    )  # fmt: skip
    try:
        await b.start()
        await a.start()
        results = b.subscribe_results()
        task_id = await a.register_durable_task(DurableTask(handler="hang", message={}, retries=2))
        await within(started.wait())

        await a.cancel_task(task_id, reason="cluster")

        result = await next_result(results, 2.0)
        assert (result.task.id, result.task.status) == (task_id, TaskStatus.CANCELLED)
        record = await backends[1].get(task_id)
        assert (record.cancelled, record.last_error, record.attempts) == (True, "task cancelled: cluster", 1)
    finally:
        for manager in (b, a):
            await within(manager.stop_now())
        for backend in backends:
            await backend.close()
        await _delete_prefix(cluster_nodes, prefix)


async def _delete_prefix(cluster_nodes: list[RedisServer], prefix: str) -> None:
    for server in cluster_nodes:
        node = redis.asyncio.Redis(host=HOST, port=server.port)
        try:
            found = [key async for key in node.scan_iter(match=RedisKeys(prefix).pattern)]
            if found:
                await node.delete(*found)
        finally:
            await node.aclose()


class Probe:
    """A handler for in-process nodes: start times and the peak of runs at once."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.sleep = sleep
        self.starts: list[float] = []
        self.running = self.peak = 0
        self.done = asyncio.Event()
        self.expected = 0

    def registry(self) -> TypedDurableRegistry:
        async def probe(ctx: TaskContext, message: dict[str, Any]) -> None:
            self.starts.append(time.time())
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                await asyncio.sleep(self.sleep)
            finally:
                self.running -= 1
            if self.expected and len(self.starts) >= self.expected and not self.running:
                self.done.set()

        registry = TypedDurableRegistry()
        registry.add("probe", dict, probe)
        return registry


@contextlib.asynccontextmanager
async def cluster_managers(
    cluster_nodes: list[RedisServer], prefix: str, probe: Probe, count: int = 3, **limits: Any
) -> AsyncIterator[list[TaskManager]]:
    """``count`` started TaskManagers, one RedisCluster client each, all with ``limits``."""
    managers: list[TaskManager] = []
    async with contextlib.AsyncExitStack() as stack:
        for index in range(count):
            client = RedisCluster(host=HOST, port=cluster_nodes[index % len(cluster_nodes)].port)
            stack.push_async_callback(client.aclose)
            backend = RedisDurableBackend(client, prefix=prefix, **limits)
            stack.push_async_callback(backend.close)
            manager = TaskManager(
                durable_backend=backend, durable_handlers=probe.registry(), durable_codec=JsonDurableCodec(),
                max_workers=4, tasks_per_second=0, durable_prefetch=0, durable_node_ttl=0,
            )  # fmt: skip
            stack.push_async_callback(manager.stop_now)
            await within(manager.start())
            managers.append(manager)
        yield managers


def probe_tasks(count: int, queue: str = "default") -> list[DurableTask]:
    return [DurableTask("probe", message={}, id=uuid.uuid4(), queue=queue) for _ in range(count)]


async def test_three_nodes_on_the_cluster_share_one_global_rate(
    env: DurableEnv, cluster_nodes: list[RedisServer]
) -> None:
    rate, burst, window = 50, 5, 1.5
    probe = Probe()
    async with cluster_managers(cluster_nodes, env.prefix, probe, global_rate_limit=(rate, burst)) as managers:
        opened = time.time()  # no lease before the enqueue
        await managers[0].register_durable_tasks(probe_tasks(300))
        await asyncio.sleep(window + 0.2)  # the measured window itself

    in_window = [t for t in probe.starts if t <= opened + window]
    assert rate * window * 0.6 <= len(in_window) <= rate * window + burst, len(in_window)


async def test_three_nodes_on_the_cluster_never_run_more_than_the_queue_cap(
    env: DurableEnv, cluster_nodes: list[RedisServer]
) -> None:
    probe = Probe(sleep=0.1)
    probe.expected = 18
    async with cluster_managers(cluster_nodes, env.prefix, probe, queue_concurrency={"q": 3}) as managers:
        await managers[0].register_durable_tasks(probe_tasks(18, queue="q"))
        await within(probe.done.wait(), 15.0)

    assert probe.peak == 3
