"""RedisCancelSubscription: a node hears cancel requests of leased tasks on ``P:cancel`` (pub/sub)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio
from redis.asyncio.client import PubSub

from pyworker.adapters.redis.wake import dedicated_client

logger = logging.getLogger("pyworker.durable")

#: How long ``start`` waits for the first SUBSCRIBE before it goes on in the background.
SUBSCRIBE_TIMEOUT = 5.0
#: The longest wait between two tries to subscribe again while Redis is away.
MAX_BACKOFF = 5.0


class RedisCancelSubscription:
    """SUBSCRIBEs ``channel`` on a connection of its own (pub/sub holds it) and calls
    ``callback(task_id, reason)`` for each ``"<id> <reason>"`` message (cancel.lua
    publishes them; docs/cluster.md#cancellation). A classic PUBLISH reaches every
    node of a Redis Cluster, so any node's connection hears it.

    When the connection drops it subscribes again, backing off; a message published
    meanwhile is lost (nack, extend and the reclaim still honour the flag).
    """

    def __init__(
        self, client: Any, channel: str, callback: Callable[[uuid.UUID, str], None], retry: float = 0.5
    ) -> None:
        self._client = client
        self._channel = channel
        self._callback = callback
        self._retry = retry
        self._conn: redis.asyncio.Redis | None = None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        """Subscribe (waiting up to SUBSCRIBE_TIMEOUT for Redis to confirm), then listen in
        the background. Never raises: a first try that fails is retried by the listener.
        """
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await self._subscribe()
        except Exception as exc:  # Redis away: the listener tries again with backoff
            logger.warning("durable cancel subscription failed: %s; retrying in the background", exc)
            await self._drop()
        self._task = asyncio.get_running_loop().create_task(self._listen(), name="pyworker-durable-cancels")

    async def close(self) -> None:
        """Unsubscribe and drop the connection. Idempotent."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    async def _subscribe(self) -> PubSub:
        self._conn = await dedicated_client(self._client, self._channel)
        pubsub = self._conn.pubsub()
        await pubsub.subscribe(self._channel)
        # The confirmation: once it is read, every later PUBLISH reaches this connection.
        while await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT) is None:
            pass
        self._pubsub = pubsub
        return pubsub

    async def _listen(self) -> None:
        failures = 0
        while not self._closed:
            try:
                pubsub = self._pubsub or await self._subscribe()
                if failures:
                    logger.warning("durable cancel subscription works again after %d failed tries", failures)
                    failures = 0
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection dropped: subscribe again, backing off
                await self._drop()
                if failures == 0:
                    logger.warning("durable cancel subscription lost: %s; subscribing again", exc)
                failures += 1
                await asyncio.sleep(min(self._retry * 2 ** (failures - 1), MAX_BACKOFF))

    def _deliver(self, data: bytes) -> None:
        text = data.decode(errors="replace")
        task_id, _, reason = text.partition(" ")
        try:
            parsed = uuid.UUID(task_id)
        except ValueError:
            logger.warning("ignoring a malformed cancel message %r", text[:80])
            return
        try:
            self._callback(parsed, reason)
        except Exception:  # one bad callback must not end the subscription
            logger.exception("cancel callback failed for task %s", parsed)

    async def _drop(self) -> None:
        pubsub, conn = self._pubsub, self._conn
        self._pubsub = self._conn = None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.aclose()
