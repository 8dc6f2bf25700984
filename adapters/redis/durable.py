"""RedisDurableBackend: the DurableBackend port on Redis (standalone or Cluster), one script per change."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import redis.asyncio
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.redis.connection import HiredisPackingConnection
from pyworker.adapters.redis.keys import RedisKeys
from pyworker.adapters.redis.records import (
    encode_task,
    leases_from_reply,
    record_from_hash,
    record_from_row,
    to_ms,
)
from pyworker.adapters.redis.scripts import RedisScripts
from pyworker.adapters.redis.wake import RedisWakeListener
from pyworker.application.ports import Clock
from pyworker.domain.durable import DurableLease, DurableStats, DurableTask, DurableTaskRecord, QueueStats
from pyworker.domain.errors import (
    BackendUnavailableError,
    ConfigurationError,
    DurableLeaseNotFoundError,
    DurablePayloadError,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)
from pyworker.domain.scheduling import DEFAULT_QUEUE, normalize_queue, normalize_queue_weights

RedisClient = redis.asyncio.Redis | RedisCluster
T = TypeVar("T")

DEFAULT_LEASE = 30.0
DEFAULT_IDEMPOTENCY_TTL = 24 * 3600.0
_LIST_STATES = frozenset({"ready", "delayed", "processing", "dead"})
#: Technology errors that mean "the backend cannot be reached": the operation did not happen.
_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    OSError,
)


class RedisDurableBackend:
    """The DurableBackend port on Redis; every state change is one Lua script.

    Keys live under one hash-tagged prefix (``pyworker.adapters.redis.keys``), so the
    backend runs unchanged on Redis Cluster. Times are the injected Clock's (in
    ms, passed to the scripts as go-worker does), so ManualClock drives leases
    and delays in tests. The client must not decode responses (payloads are bytes).

    Args:
        client: a ``redis.asyncio.Redis`` or ``RedisCluster``; when None, one is made
            from ``url`` and closed by ``close()``.
        scan_window: how many due delayed tasks and expired leases each dequeue moves
            back to ready per queue (a bound on the script's run time).
        idempotency_ttl: how long an idempotency key keeps deduplicating after its
            task is acked (0: forgotten at once); it lives as long as the task does.
        enqueue_chunk: tasks per script call in ``enqueue_many`` (one pipeline).
        fallback_poll: the wait between tries of ``wait_for_work`` while Redis is down.
    """

    def __init__(
        self,
        client: RedisClient | None = None,
        prefix: str = "pyworker",
        clock: Clock | None = None,
        default_queue: str = DEFAULT_QUEUE,
        queue_weights: Mapping[str, int] | None = None,
        scan_window: int = 1000,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
        enqueue_chunk: int = 1000,
        fallback_poll: float = 0.5,
    ) -> None:
        self._owns_client = client is None
        self._client: RedisClient = client if client is not None else _own_client(url)
        if self._client.get_connection_kwargs().get("decode_responses"):
            raise ConfigurationError(reason="the Redis client must not decode responses (payloads are bytes)")
        self.keys = RedisKeys(prefix)
        self._prefix = self.keys.prefix
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._scripts = RedisScripts.register(self._client)
        self._window = max(1, min(scan_window, 4000))  # bounded: Lua unpack() has a stack limit
        self._idempotency_ttl_ms = to_ms(max(idempotency_ttl, 0.0))
        self._chunk = max(1, enqueue_chunk)
        self._wake = RedisWakeListener(self._client, self.keys.wake, fallback_poll)
        self._next_due_ms: int | None = None
        self._closed = False
        self._default_queue = DEFAULT_QUEUE
        self._weight_args: list[Any] = []
        self._set_queues(default_queue, queue_weights or {})

    # -- writes ---------------------------------------------------------------------------

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        now_ms = self._now_ms()
        task_id, record, ready_at_ms = encode_task(task, self._default_queue, now_ms)
        reply = await self._run(self._scripts.enqueue, self._enqueue_keys, [self._prefix, now_ms, 1, record])
        result = self._enqueue_result(task_id, reply[0])
        if isinstance(result, BaseException):
            raise result
        self._note_due(ready_at_ms, now_ms)
        return result

    async def enqueue_many(self, tasks: Sequence[DurableTask]) -> list[uuid.UUID | BaseException]:
        """Enqueue in chunks of ``enqueue_chunk`` tasks, all in one pipeline (one round trip).

        Each task is all-or-nothing. Raises BackendUnavailableError if Redis cannot be
        reached; tasks of chunks that ran before the connection broke stay stored.
        """
        now_ms = self._now_ms()
        results: list[uuid.UUID | BaseException] = []
        pending: list[tuple[int, uuid.UUID]] = []
        records: list[bytes] = []
        for task in tasks:
            try:
                task_id, record, ready_at_ms = encode_task(task, self._default_queue, now_ms)
            except (InvalidTaskError, DurablePayloadError) as exc:
                results.append(exc)
                continue
            self._note_due(ready_at_ms, now_ms)
            pending.append((len(results), task_id))
            results.append(task_id)
            records.append(record)
        if not pending:
            return results
        step = self._chunk
        calls = [
            [self._prefix, now_ms, len(records[i : i + step]), b"".join(records[i : i + step])]
            for i in range(0, len(records), step)
        ]
        replies = await self._run_many(self._scripts.enqueue, self._enqueue_keys, calls)
        for (index, task_id), reply in zip(pending, (r for chunk in replies for r in chunk), strict=True):
            results[index] = self._enqueue_result(task_id, reply)
        return results

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        keys, args, expires_at_ms = self._dequeue_call(limit, lease)
        return self._leases(await self._run(self._scripts.dequeue, keys, args), expires_at_ms)

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        """BLPOP the wake list and EVALSHA the dequeue script in one pipeline on the
        wake connection: Redis runs the dequeue the moment the BLPOP unblocks, which
        saves the idle node a round trip between the wake-up and its lease. Falls
        back to wait_for_work + dequeue where that cannot be done.
        """
        timeout = self._wait_timeout(max_wait)
        if timeout > 0:
            keys, args, expires_at_ms = self._dequeue_call(limit, lease)
            waited, reply = await self._wake.wait_then_eval(timeout, self._scripts.dequeue.sha, keys, args)
            if reply is not None:
                return self._leases(reply, expires_at_ms)
            if not waited:  # the pipeline was not possible: the two-step path
                await self._wake.wait(timeout)
        return await self.dequeue(limit, lease)

    def _dequeue_call(self, limit: int, lease: float) -> tuple[list[str], list[Any], int]:
        now_ms = self._now_ms()
        expires_at_ms = now_ms + to_ms(lease if lease > 0 else DEFAULT_LEASE)
        keys = [self.keys.queues, self.keys.paused, self.keys.paused_queues, self.keys.round_robin]
        args = [self._prefix, now_ms, expires_at_ms - now_ms, max(limit, 1), self._window,
                secrets.token_hex(8), self._default_queue, *self._weight_args]  # fmt: skip
        return keys, args, expires_at_ms

    def _leases(self, reply: Any, expires_at_ms: int) -> list[DurableLease]:
        self._next_due_ms = int(reply[0]) if int(reply[0]) >= 0 else None
        return leases_from_reply(reply, expires_at_ms)

    async def ack(self, lease: DurableLease) -> None:
        (error,) = await self.ack_many([lease])
        if error is not None:
            raise error

    async def ack_many(self, leases: Sequence[DurableLease]) -> list[BaseException | None]:
        if not leases:
            return []
        args: list[Any] = [self._prefix, self._now_ms(), self._idempotency_ttl_ms]
        for lease in leases:
            args += (str(lease.task_id), lease.token)
        reply = await self._run(self._scripts.ack, [self.keys.queues], args)
        return [None if ok else self._lost(lease) for lease, ok in zip(leases, reply, strict=True)]

    async def nack(self, lease: DurableLease, delay: float) -> None:
        now_ms = self._now_ms()
        ready_at_ms = now_ms + max(to_ms(delay), 0)
        keys = [self.keys.queues, self.keys.seq, self.keys.wake]
        args = [self._prefix, now_ms, str(lease.task_id), lease.token, ready_at_ms]
        if not await self._run(self._scripts.nack, keys, args):
            raise self._lost(lease)
        self._note_due(ready_at_ms, now_ms)

    async def fail(self, lease: DurableLease, error: str) -> None:
        args = [self._prefix, self._now_ms(), str(lease.task_id), lease.token, error]
        if not await self._run(self._scripts.fail, [self.keys.queues, self.keys.dead], args):
            raise self._lost(lease)

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        now_ms = self._now_ms()
        expires_at_ms = now_ms + to_ms(duration if duration > 0 else DEFAULT_LEASE)
        args = [self._prefix, now_ms, str(lease.task_id), lease.token, expires_at_ms]
        if not await self._run(self._scripts.extend, [self.keys.queues], args):
            raise self._lost(lease)
        return attrs.evolve(lease, expires_at=expires_at_ms / 1000)

    async def release(self, leases: Sequence[DurableLease]) -> None:
        if not leases:
            return
        args: list[Any] = [self._prefix, self._now_ms()]
        for lease in leases:
            args += (str(lease.task_id), lease.token)
        await self._run(self._scripts.release, [self.keys.queues, self.keys.wake], args)

    async def configure_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        self._set_queues(default_queue, weights, queues)

    async def pause(self, queue: str | None = None) -> None:
        await self._pause("pause", queue)

    async def resume(self, queue: str | None = None) -> None:
        await self._pause("resume", queue)

    async def wait_for_work(self, max_wait: float) -> None:
        """BLPOP on the wake list, bounded by the next known due time (client clock).

        ``max_wait`` is real time. Never raises: while Redis is unreachable it polls
        (sleeps ``fallback_poll`` at most), so the caller's next dequeue reports the outage.
        """
        await self._wake.wait(self._wait_timeout(max_wait))

    def _wait_timeout(self, max_wait: float) -> float:
        """``max_wait``, cut short by the next known due time (client clock)."""
        if self._next_due_ms is None:
            return max_wait
        return min(max_wait, (self._next_due_ms - self._now_ms()) / 1000)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._wake.close()
        if self._owns_client:
            await self._client.aclose()

    # -- reads ----------------------------------------------------------------------------

    async def stats(self) -> DurableStats:
        keys = [self.keys.queues, self.keys.paused, self.keys.paused_queues, self.keys.dead]
        reply = await self._run(self._scripts.stats, keys, [self._prefix, self._default_queue])
        queues = tuple(
            QueueStats(reply[i].decode(), int(reply[i + 1]), int(reply[i + 2]), int(reply[i + 3]), bool(reply[i + 4]))
            for i in range(2, len(reply), 5)
        )
        return DurableStats(queues=queues, dead=int(reply[1]), paused=bool(reply[0]))

    async def get(self, task_id: uuid.UUID) -> DurableTaskRecord:
        reply: Any = await self._guard(self._client.hgetall(self.keys.task(task_id)))
        fields: dict[bytes, bytes] = reply
        if not fields:
            raise TaskNotFoundError(task_id=task_id)
        return record_from_hash(task_id, fields)

    async def list_tasks(self, state: str, queue: str | None = None, limit: int = 100) -> list[DurableTaskRecord]:
        if state not in _LIST_STATES:
            raise ValueError(f"unknown durable state {state!r}; expected one of {sorted(_LIST_STATES)}")
        name = "" if queue is None else normalize_queue(queue, self._default_queue)
        args = [self._prefix, state, name, max(limit, 0), self._default_queue]
        rows = await self._run(self._scripts.list, [self.keys.queues, self.keys.dead], args)
        return [record_from_row(row) for row in rows]

    # -- internals ------------------------------------------------------------------------

    @property
    def _enqueue_keys(self) -> list[str]:
        return [self.keys.queues, self.keys.seq, self.keys.wake]

    def _now_ms(self) -> int:
        return to_ms(self._clock.now())

    def _set_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        self._default_queue = normalize_queue(default_queue)
        only = sorted({normalize_queue(q, self._default_queue) for q in queues}) if queues else []
        weight_pairs = [v for item in normalize_queue_weights(weights).items() for v in item]
        self._weight_args = [len(only), *only, *weight_pairs]

    def _note_due(self, due_ms: int, now_ms: int) -> None:
        """Remember a delayed task's due time, so this node's idle wait ends by then."""
        if due_ms > now_ms and (self._next_due_ms is None or due_ms < self._next_due_ms):
            self._next_due_ms = due_ms

    @staticmethod
    def _enqueue_result(task_id: uuid.UUID, reply: Any) -> uuid.UUID | BaseException:
        if isinstance(reply, bytes):
            return uuid.UUID(reply.decode())  # the idempotency key's existing task
        return task_id if reply == 1 else DurableTaskExistsError(task_id=task_id)

    @staticmethod
    def _lost(lease: DurableLease) -> DurableLeaseNotFoundError:
        return DurableLeaseNotFoundError(task_id=lease.task_id, token=lease.token)

    async def _pause(self, action: str, queue: str | None) -> None:
        name = "" if queue is None else normalize_queue(queue, self._default_queue)
        keys = [self.keys.paused, self.keys.paused_queues, self.keys.wake]
        await self._run(self._scripts.pause, keys, [self._prefix, action, name])

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except _UNAVAILABLE as exc:
            raise BackendUnavailableError(reason=str(exc) or type(exc).__name__) from exc

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await self._guard(script(keys=keys, args=args))

    async def _run_many(self, script: AsyncScript, keys: list[str], calls: list[list[Any]]) -> list[Any]:
        """Run a script once per argument list in one pipeline; NOSCRIPT replies are retried
        after loading the script (the failed calls did not run).
        """
        if len(calls) == 1:
            return [await self._run(script, keys, calls[0])]
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for _ in range(2):
            async with self._client.pipeline(transaction=False) as pipe:
                for index in todo:
                    # execute_command: ClusterPipeline blocks the evalsha() helper, not the command.
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *calls[index])
                replies = await self._guard(pipe.execute(raise_on_error=False))
            missing = []
            for index, reply in zip(todo, replies, strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError):
                    missing.append(index)
                elif isinstance(reply, BaseException):
                    raise reply
                else:
                    results[index] = reply
            if not missing:
                return results
            todo = missing
            script.sha = await self._guard(self._client.script_load(script.script))
        raise BackendUnavailableError(reason="the enqueue script could not be loaded")


def _own_client(url: str) -> redis.asyncio.Redis:
    """The client the backend builds (and owns) from ``url``.

    No per-read socket timeout: redis-py arms an asyncio timeout around every
    read when one is set, about a quarter of a command's client-side cost here.
    Commands are packed by hiredis (HiredisPackingConnection). A dead server or
    peer is still noticed: connecting is bounded, and TCP
    keepalive plus a health check before reusing an idle connection catch
    dropped links. A caller who wants a read timeout passes its own client.
    """
    return redis.asyncio.Redis.from_url(
        url,
        connection_class=HiredisPackingConnection,
        socket_timeout=None,
        socket_connect_timeout=5.0,
        socket_keepalive=True,
        health_check_interval=30,
    )
