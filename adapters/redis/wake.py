"""RedisWakeListener: idle workers block on the wake list on a connection of their own."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

#: Extra real time allowed for a BLPOP reply before the connection is presumed dead.
_REPLY_GRACE = 5.0
#: Connection kwargs that belong to the pool they came from, not to a new pool.
_POOL_BOUND = frozenset({"maint_notifications_pool_handler", "connection_pool"})


async def dedicated_client(client: Any, key: str) -> redis.asyncio.Redis:
    """A one-connection client to the Redis that serves ``key`` (for a Cluster client, the
    node of its slot), with ``client``'s settings, no read timeout and no retries: for a
    connection that blocks (BLPOP, XREAD BLOCK) or listens (pub/sub) and so must not hold
    one of the shared pool's.
    """
    if isinstance(client, RedisCluster):
        await client.initialize()
        node = client.get_node_from_key(key)
        if node is None:
            raise redis.exceptions.ClusterDownError(f"no node serves {key}")
        connection_class, kwargs = node.connection_class, dict(node.connection_kwargs)
    else:
        pool = client.connection_pool
        connection_class, kwargs = pool.connection_class, dict(pool.connection_kwargs)
    kwargs = {k: v for k, v in kwargs.items() if k not in _POOL_BOUND and not k.startswith("orig_")}
    # The blocking command's timeout bounds the read; no retries, the caller's next call reconnects.
    kwargs.update(socket_timeout=None, retry=Retry(NoBackoff(), 0))
    pool = redis.asyncio.ConnectionPool(connection_class=connection_class, max_connections=1, **kwargs)
    return redis.asyncio.Redis.from_pool(pool)


class OwnConnection:
    """One ``dedicated_client`` for ``key``, opened at first use; ``drop()`` after trouble or
    a cancelled blocking read (the connection cannot be reused), and the next use reconnects.
    """

    def __init__(self, client: Any, key: str) -> None:
        self._client = client
        self._key = key
        self._conn: redis.asyncio.Redis | None = None

    async def get(self) -> redis.asyncio.Redis:
        if self._conn is None:
            self._conn = await dedicated_client(self._client, self._key)
        return self._conn

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.aclose()


class RedisWakeListener:
    """BLPOPs ``P:wake`` on a dedicated connection, so a blocked worker never holds
    a connection of the shared pool. Concurrent waiters share one BLPOP in flight.
    On connection trouble it falls back to a short sleep (polling); it never raises.
    """

    def __init__(self, client: Any, key: str, fallback_poll: float = 0.5) -> None:
        self._client = client
        self._key = key
        self._fallback_poll = fallback_poll
        self._conn = OwnConnection(client, key)  # the BLPOP timeout bounds each read
        self._inflight: asyncio.Task[None] | None = None
        self._closed = False

    async def wait(self, timeout: float) -> None:
        """Return on a wake token or after ``timeout`` seconds (real time), whichever is first."""
        if self._closed or timeout <= 0:
            return
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.get_running_loop().create_task(self._blpop(timeout))
        # asyncio.wait never cancels the BLPOP: cancelling it would leave the connection unusable.
        await asyncio.wait({self._inflight}, timeout=timeout)

    async def wait_then_eval(
        self, timeout: float, sha: str | None, keys: list[str], args: list[Any]
    ) -> tuple[bool, Any]:
        """BLPOP (up to ``timeout``) then EVALSHA ``sha`` in one pipeline on the wake
        connection. Returns (waited, reply): waited is False when the pipeline could
        not be sent here (a BLPOP already in flight, Redis Cluster); reply is None
        when the script did not run (not loaded, or any error).
        """
        if self._closed or sha is None or isinstance(self._client, RedisCluster):
            return False, None
        if self._inflight is not None and not self._inflight.done():
            return False, None
        try:
            conn = await self._conn.get()
            pipe = conn.pipeline(transaction=False)
            pipe.blpop([self._key], timeout=max(timeout, 0.01))
            pipe.evalsha(sha, len(keys), *keys, *args)
            # asyncio.timeout, not wait_for: no task of its own, so the replies reach this
            # coroutine one event-loop step sooner (the idle pickup's critical path).
            async with asyncio.timeout(timeout + _REPLY_GRACE):
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            await self._conn.drop()
            raise
        except Exception:  # forget the connection; the caller's plain dequeue reports an outage
            await self._conn.drop()
            return True, None
        reply = replies[1]
        return True, None if isinstance(reply, BaseException) else reply

    async def close(self) -> None:
        self._closed = True
        if self._inflight is not None:
            self._inflight.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inflight
            self._inflight = None
        await self._conn.drop()

    async def _blpop(self, timeout: float) -> None:
        try:
            conn = await self._conn.get()
            # BLPOP's timeout 0 means forever; never send less than Redis's 1 ms resolution.
            async with asyncio.timeout(timeout + _REPLY_GRACE):
                await conn.blpop([self._key], timeout=max(timeout, 0.01))
        except asyncio.CancelledError:
            await self._conn.drop()
            raise
        except Exception:  # any failure: forget the connection, poll instead of spinning
            await self._conn.drop()
            await asyncio.sleep(min(timeout, self._fallback_poll))

