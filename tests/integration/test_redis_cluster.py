"""The durable ports' core contract cases on a real 3-node Redis Cluster (RedisCluster client)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio
from redis.asyncio.cluster import RedisCluster

from pyworker.adapters.redis import RedisKeys
from pyworker.domain import DurableState
from tests.contract.conftest import DurableEnv, open_redis_env
from tests.contract.durable_support import make_task

# The contracts' own test functions, collected here again with this module's ``env``.
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
