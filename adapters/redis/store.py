"""RedisDurableStore: the one client, key table, script registry and clock both Redis durable ports share."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.redis.client import RedisClient
from pyworker.adapters.redis.keys import RedisKeys, global_rate_key
from pyworker.adapters.redis.scripts import RedisScripts
from pyworker.application.ports import Clock
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import BackendUnavailableError, ConfigurationError
from pyworker.domain.scheduling import DEFAULT_QUEUE, normalize_queue

T = TypeVar("T")

#: Technology errors: the store cannot be reached, what answers is not Redis (a protocol
#: error), or it refused the command (out of memory, a read-only replica, a cluster
#: without the slot). The operation did not happen: every change is one script. A
#: DataError (redis-py refusing an argument before sending it) is a bug here, not one of these.
TECHNOLOGY_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ResponseError,
    redis.exceptions.InvalidResponse,
    redis.exceptions.ClusterError,
    redis.exceptions.RedisClusterException,
    OSError,
)


def unavailable(exc: BaseException) -> BackendUnavailableError:
    """The application error for a technology error (raise it ``from exc``)."""
    return BackendUnavailableError(reason=str(exc) or type(exc).__name__)


class RedisDurableStore:
    """What ``RedisDurableQueue`` and ``RedisDurableInspector`` share: one client, one
    key table (``keys``), one script registry (``scripts``), one clock and the
    default queue. Build one per client and prefix, and both halves over it
    (``RedisDurableBackend`` does). It never closes the client: its owner does.

    Args:
        client: a ``redis.asyncio.Redis`` or ``RedisCluster`` that does not decode
            responses (payloads are bytes); see ``adapters/redis/client.py``.
        prefix: the key prefix; wrapped as ``{prefix}`` unless it holds ``{``.
        clock: every time the scripts get (default SystemClock), in ms.
    """

    def __init__(
        self,
        client: RedisClient,
        prefix: str = "pyworker",
        clock: Clock | None = None,
        default_queue: str = DEFAULT_QUEUE,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ConfigurationError(reason="the Redis client must not decode responses (payloads are bytes)")
        self.client = client
        self.keys = RedisKeys(prefix)
        self.prefix = self.keys.prefix
        self.global_rate_key = global_rate_key(prefix, isinstance(client, RedisCluster))
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.scripts = RedisScripts.register(client)
        self.default_queue = normalize_queue(default_queue)

    def now_ms(self) -> int:
        return to_ms(self.clock.now())

    def queue_arg(self, queue: str | None) -> str:
        """A queue name as the scripts take it: ``""`` for all queues (None)."""
        return "" if queue is None else normalize_queue(queue, self.default_queue)

    async def guard(self, call: Awaitable[T]) -> T:
        """Await a client call; technology errors become BackendUnavailableError."""
        try:
            return await call
        except TECHNOLOGY_ERRORS as exc:
            raise unavailable(exc) from exc

    async def run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """One script call (EVALSHA, loaded on NOSCRIPT)."""
        return await self.guard(script(keys=keys, args=args))

    async def run_many(self, script: AsyncScript, keys: list[str], calls: list[list[Any]]) -> list[Any]:
        """Run a script once per argument list in one pipeline; NOSCRIPT replies are retried
        after loading the script (the failed calls did not run).
        """
        if len(calls) == 1:
            return [await self.run(script, keys, calls[0])]
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for _ in range(2):
            async with self.client.pipeline(transaction=False) as pipe:
                for index in todo:
                    # execute_command: ClusterPipeline blocks the evalsha() helper, not the command.
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *calls[index])
                replies = await self.guard(pipe.execute(raise_on_error=False))
            missing = []
            for index, reply in zip(todo, replies, strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError):
                    missing.append(index)
                elif isinstance(reply, BaseException):
                    raise unavailable(reply) from reply
                else:
                    results[index] = reply
            if not missing:
                return results
            todo = missing
            script.sha = await self.guard(self.client.script_load(script.script))
        raise BackendUnavailableError(reason="the script could not be loaded")

    async def ping(self) -> None:
        """PING. Raises BackendUnavailableError when no Redis answers."""
        reply: Any = await self.guard(self.client.ping())
        if not reply:
            raise BackendUnavailableError(reason=f"unexpected PING reply {reply!r}")
