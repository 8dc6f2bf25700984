"""The bounded in-memory idempotency store: replay, conflicts, waiting, size and TTL bounds."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from pyworker.adapters.grpc import InMemoryIdempotencyStore, RpcError
from tests.support.waits import settle, within


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_same_signature_replays_the_id_and_another_is_already_exists() -> None:
    store = InMemoryIdempotencyStore()
    assert await store.reserve("k", b"a") is None
    await store.complete("k", "id-1")
    assert await store.reserve("k", b"a") == "id-1"
    with pytest.raises(RpcError) as caught:
        await store.reserve("k", b"b")
    assert caught.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_a_waiter_gets_the_first_outcome_and_a_forgotten_claim_is_claimed_again() -> None:
    store = InMemoryIdempotencyStore()
    assert await store.reserve("k", b"a") is None
    waiter = asyncio.ensure_future(store.reserve("k", b"a"))
    await settle()  # let the waiter block on the claim
    await store.fail("k", grpc.StatusCode.NOT_FOUND, "nope")
    with pytest.raises(RpcError) as caught:
        await within(waiter)
    assert (caught.value.code, caught.value.message) == (grpc.StatusCode.NOT_FOUND, "nope")
    await store.forget("k")
    assert await store.reserve("k", b"a") is None


async def test_keys_expire_after_the_ttl() -> None:
    clock = FakeClock()
    store = InMemoryIdempotencyStore(ttl=10, clock=clock)
    await store.reserve("k", b"a")
    await store.complete("k", "id-1")
    clock.now = 9.9
    assert await store.reserve("k", b"a") == "id-1"
    clock.now = 10.0
    assert await store.reserve("k", b"b") is None  # expired: a new claim, even with other content


async def test_the_oldest_completed_keys_go_first_and_claims_in_flight_stay() -> None:
    store = InMemoryIdempotencyStore(max_keys=3)
    assert await store.reserve("in-flight", b"x") is None
    for key in ("a", "b"):
        await store.reserve(key, b"x")
        await store.complete(key, f"id-{key}")
    await store.reserve("c", b"x")  # full: "a", the oldest completed, goes
    await store.complete("c", "id-c")
    assert len(store) == 3
    assert [await store.reserve("b", b"x"), await store.reserve("c", b"x")] == ["id-b", "id-c"]
    assert await store.reserve("a", b"y") is None  # forgotten, so claimable with anything
    assert await store.reserve("b", b"y") is None  # "a" took the room of "b"; this one takes "c"'s
    assert await store.reserve("c", b"x") is None
    assert len(store) == 4  # every key in flight: none is evicted, the bound waits for completions
    waiter = asyncio.ensure_future(store.reserve("in-flight", b"x"))
    await settle()
    assert not waiter.done()  # still in flight: never evicted
    await store.complete("in-flight", "id-f")
    assert await within(waiter) == "id-f"
