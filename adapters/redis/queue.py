"""RedisDurableQueue: the DurableQueue port (what a worker node needs) on Redis, one script per change."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from pyworker.adapters.redis.cancels import RedisCancelSubscription
from pyworker.adapters.redis.keys import RedisKeys
from pyworker.adapters.redis.limits import RedisLimitStore
from pyworker.adapters.redis.records import encode_task, leases_from_reply
from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.adapters.redis.wake import RedisWakeListener
from pyworker.domain.durable import (
    DEFAULT_IDEMPOTENCY_TTL,
    DurableLease,
    DurableTask,
    effective_lease,
    failure_text,
)
from pyworker.domain.duration import to_ms
from pyworker.domain.errors import (
    DurableCancelRequestedError,
    DurableLeaseNotFoundError,
    DurablePayloadError,
    DurableTaskExistsError,
    InvalidTaskError,
    TaskNotFoundError,
)
from pyworker.domain.limits import DurableLimits
from pyworker.domain.scheduling import normalize_queue, normalize_queue_weights
from pyworker.domain.settled import (
    DEFAULT_CANCEL_REASON,
    DEFAULT_RESULTS_MAX_LEN,
    CancelOutcome,
)
from pyworker.domain.status import TaskStatus

#: cancel.lua's replies.
_CANCEL_OUTCOMES = {1: CancelOutcome.WITHDRAWN, 2: CancelOutcome.FLAGGED, 3: CancelOutcome.ALREADY_DONE}


class RedisDurableQueue:
    """The DurableQueue port on a ``RedisDurableStore``: enqueue, lease, settle, wait.

    Every state change is one Lua script (``adapters/redis/lua/``), so it is atomic
    and one round trip; keys live under one hash-tagged prefix, so it runs
    unchanged on Redis Cluster. Times are the store's Clock (in ms, passed to the
    scripts as go-worker does), so ManualClock drives leases and delays in tests.

    Args:
        store: the client, keys, scripts and clock, shared with a RedisDurableInspector.
        queue_weights: inter-queue weights for dequeue (see ``configure_queues``).
        scan_window: how many due delayed tasks and expired leases each dequeue moves
            back to ready per queue (a bound on the script's run time).
        idempotency_ttl: how long an idempotency key keeps deduplicating after its
            task is acked (0: forgotten at once); it lives as long as the task does.
        enqueue_chunk: tasks per script call in ``enqueue_many`` (one pipeline).
        fallback_poll: the wait between tries of ``wait_for_work`` while Redis is down.
        close_client: ``close()`` also closes the store's client. For a composition
            root that has no resource life cycle; otherwise the client's owner closes it.
        global_rate_limit: (rate tokens/s, burst) for every node on this prefix;
            ``queue_concurrency``: queue -> the most tasks leased at once across every
            node. Each part given is stored in Redis when the node starts
            (``configure_queues``), replacing the stored part; every node's dequeue
            obeys what is stored, configured or not (docs/cluster.md#limits).

    Raises:
        ConfigurationError: a limit out of range (``domain.limits.DurableLimits``).
    """

    def __init__(
        self,
        store: RedisDurableStore,
        queue_weights: Mapping[str, int] | None = None,
        *,
        scan_window: int = 1000,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
        enqueue_chunk: int = 1000,
        fallback_poll: float = 0.5,
        close_client: bool = False,
        global_rate_limit: tuple[float, int] | None = None,
        queue_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        self.limits = DurableLimits(global_rate_limit, queue_concurrency)
        self._limit_parts = (global_rate_limit is not None, queue_concurrency is not None)
        # What P:limits holds, as the last dequeue saw it: a cap (then acks and fails run the
        # '_capped' scripts, which wake a node for a freed slot), a global rate.
        self._capped = bool(self.limits.queue_concurrency)
        self._rated = self.limits.global_rate is not None
        self.store = store
        self._window = max(1, min(scan_window, 4000))  # bounded: Lua unpack() has a stack limit
        self._idempotency_ttl_ms = to_ms(max(idempotency_ttl, 0.0))
        self._chunk = max(1, enqueue_chunk)
        self._wake = RedisWakeListener(store.client, store.keys.wake, fallback_poll)
        self._fallback_poll = fallback_poll
        self._close_client = close_client
        self._next_due_ms: int | None = None
        self._closed = False
        self._weight_args: list[Any] = []
        self._set_queues(store.default_queue, queue_weights or {})
        keys = store.keys  # the scripts' KEYS lists, built once (the prefix never changes)
        self._enqueue_keys = [keys.queues, keys.seq, keys.wake]
        self._dequeue_keys = [keys.queues, keys.paused, keys.paused_queues, keys.round_robin]
        self._queues_key = [keys.queues]
        self._ack_results_keys = [keys.queues, keys.results]
        self._result_args: list[Any] = []  # ttl_ms, max_len, node id; empty: results off

    @property
    def keys(self) -> RedisKeys:
        return self.store.keys

    # -- enqueue --------------------------------------------------------------------------

    async def enqueue(self, task: DurableTask) -> uuid.UUID:
        store = self.store
        now_ms = store.now_ms()
        task_id, record, ready_at_ms = encode_task(task, store.default_queue, now_ms)
        reply = await store.run(store.scripts.enqueue, self._enqueue_keys, [store.prefix, now_ms, 1, record])
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
        store = self.store
        now_ms = store.now_ms()
        results: list[uuid.UUID | BaseException] = []
        pending: list[tuple[int, uuid.UUID]] = []
        records: list[bytes] = []
        for task in tasks:
            try:
                task_id, record, ready_at_ms = encode_task(task, store.default_queue, now_ms)
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
            [store.prefix, now_ms, len(records[i : i + step]), b"".join(records[i : i + step])]
            for i in range(0, len(records), step)
        ]
        replies = await store.run_many(store.scripts.enqueue, self._enqueue_keys, calls)
        for (index, task_id), reply in zip(pending, (r for chunk in replies for r in chunk), strict=True):
            results[index] = self._enqueue_result(task_id, reply)
        return results

    # -- lease ----------------------------------------------------------------------------

    async def dequeue(self, limit: int, lease: float) -> list[DurableLease]:
        keys, args, expires_at_ms = self._dequeue_call(limit, lease)
        return self._leases(await self.store.run(self.store.scripts.dequeue, keys, args), expires_at_ms)

    async def wait_and_dequeue(self, limit: int, lease: float, max_wait: float) -> list[DurableLease]:
        """BLPOP the wake list and EVALSHA the dequeue script in one pipeline on the
        wake connection: Redis runs the dequeue the moment the BLPOP unblocks, which
        saves the idle node a round trip between the wake-up and its lease. Falls
        back to wait_for_work + dequeue where that cannot be done.
        """
        timeout = self._wait_timeout(max_wait)
        if timeout > 0:
            waited = False
            # Under a global rate limit the bucket must count the time the script runs, not
            # the time the wait began (the pipeline's now is that old): the two-step path.
            if not self._rated:
                keys, args, expires_at_ms = self._dequeue_call(limit, lease)
                waited, reply = await self._wake.wait_then_eval(timeout, self.store.scripts.dequeue.sha, keys, args)
                if reply is not None:
                    return self._leases(reply, expires_at_ms)
            if not waited:  # the pipeline was not possible or not wanted: the two-step path
                await self._wake.wait(timeout)
        return await self.dequeue(limit, lease)

    async def wait_for_work(self, max_wait: float) -> None:
        """BLPOP on the wake list, bounded by the next known due time (client clock).

        ``max_wait`` is real time. Never raises: while Redis is unreachable it polls
        (sleeps ``fallback_poll`` at most), so the caller's next dequeue reports the outage.
        """
        await self._wake.wait(self._wait_timeout(max_wait))

    # -- settle ---------------------------------------------------------------------------

    async def ack(self, lease: DurableLease, output: str = "") -> None:
        (error,) = await self.ack_many([lease], [output])
        if error is not None:
            raise error

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> list[BaseException | None]:
        """One script call; with results on (``configure_results``) each lease's outcome
        is recorded in it too (``outputs``: one text per lease, None for "").
        """
        if not leases:
            return []
        store = self.store
        args: list[Any] = [store.prefix, store.now_ms(), self._idempotency_ttl_ms]
        if self._result_args:
            texts = [_dumps(text) for text in outputs] if outputs is not None else ['""'] * len(leases)
            args += [*self._result_args, *_triples(leases, texts)]
            keys = self._ack_results_keys
        else:
            args += _pairs(leases)
            keys = self._queues_key
        script = store.scripts.ack_capped if self._capped else store.scripts.ack
        reply = await store.run(script, keys, args)
        return [None if ok else _lost(lease) for lease, ok in zip(leases, reply, strict=True)]

    async def nack(self, lease: DurableLease, delay: float) -> None:
        store = self.store
        now_ms = store.now_ms()
        ready_at_ms = now_ms + max(to_ms(delay), 0)
        keys = [store.keys.queues, store.keys.seq, store.keys.wake]
        args: list[Any] = [store.prefix, now_ms, str(lease.task_id), lease.token, ready_at_ms]
        if self._result_args:  # a flagged task is cancelled instead: its outcome is recorded
            keys.append(store.keys.results)
            args += self._result_args
        if not await store.run(store.scripts.nack, keys, args):
            raise _lost(lease)
        self._note_due(ready_at_ms, now_ms)

    async def fail(
        self, lease: DurableLease, error: str | BaseException, *, status: TaskStatus = TaskStatus.FAILED
    ) -> None:
        store = self.store
        args: list[Any] = [store.prefix, store.now_ms(), str(lease.task_id), lease.token, failure_text(error)]
        args.append(status.wire_name)
        keys = [store.keys.queues, store.keys.dead]
        if self._result_args:
            keys.append(store.keys.results)
            args += self._result_args
        script = store.scripts.fail_capped if self._capped else store.scripts.fail
        if not await store.run(script, keys, args):
            raise _lost(lease)

    async def cancel(self, task_id: uuid.UUID, reason: str) -> CancelOutcome:
        """One script (lua/cancel.lua): withdraw a waiting task, or flag a leased one and
        PUBLISH it on ``P:cancel``.
        """
        store = self.store
        args: list[Any] = [store.prefix, store.now_ms(), str(task_id), reason or DEFAULT_CANCEL_REASON]
        keys = [store.keys.queues, store.keys.dead]
        if self._result_args:  # a withdrawn task's Cancelled outcome is recorded in the same script
            keys.append(store.keys.results)
            args += self._result_args
        reply = await store.run(store.scripts.cancel, keys, args)
        outcome = _CANCEL_OUTCOMES.get(int(reply))
        if outcome is None:
            raise TaskNotFoundError(task_id=task_id)
        return outcome

    async def subscribe_cancellations(self, callback: Callable[[uuid.UUID, str], None]) -> RedisCancelSubscription:
        """SUBSCRIBE ``P:cancel`` on a connection of its own (adapters/redis/cancels.py)."""
        subscription = RedisCancelSubscription(self.store.client, self.store.keys.cancel, callback, self._fallback_poll)
        await subscription.start()
        return subscription

    async def extend(self, lease: DurableLease, duration: float) -> DurableLease:
        (result,) = await self.extend_many([lease], duration)
        if isinstance(result, BaseException):
            raise result
        return result

    async def extend_many(
        self, leases: Sequence[DurableLease], duration: float
    ) -> list[DurableLease | BaseException]:
        """One script call for every lease; per lease, the renewed lease or its error."""
        if not leases:
            return []
        store = self.store
        now_ms = store.now_ms()
        expires_at_ms = now_ms + to_ms(effective_lease(duration))
        args: list[Any] = [store.prefix, now_ms, expires_at_ms, *_pairs(leases)]
        reply = await store.run(store.scripts.extend, self._queues_key, args)
        expires_at = expires_at_ms / 1000
        return [
            (attrs.evolve(lease, expires_at=expires_at) if ok == 1 else _cancel_requested(lease, ok))
            if ok
            else _lost(lease)
            for lease, ok in zip(leases, reply, strict=True)
        ]

    async def release(self, leases: Sequence[DurableLease]) -> None:
        if not leases:
            return
        store = self.store
        args: list[Any] = [store.prefix, store.now_ms(), *_pairs(leases)]
        await store.run(store.scripts.release, [store.keys.queues, store.keys.wake], args)

    # -- node settings and life cycle -----------------------------------------------------

    async def configure_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        self._set_queues(default_queue, weights, queues)
        await self.apply_limits()

    async def apply_limits(self) -> None:
        """Store this node's configured limit parts in Redis for every node (``configure_queues``
        calls it: a node's start). A part not configured is left as stored.
        """
        rate, caps = self._limit_parts
        await RedisLimitStore(self.store).apply_node_limits(self.limits, rate=rate, caps=caps)

    async def configure_results(self, ttl: float, max_len: int, node_id: str) -> None:
        """Record outcomes from now on: ``P:result:<id>`` for ``ttl`` seconds and one entry
        on ``P:results`` (``MAXLEN ~ max_len``) per ack and fail (ttl 0: neither).
        """
        ttl_ms = to_ms(max(ttl, 0.0))
        size = max_len if max_len > 0 else DEFAULT_RESULTS_MAX_LEN
        # The node id goes as a JSON string literal: the script concatenates the record (lua/outcome.lua).
        self._result_args = [b"%d" % ttl_ms, b"%d" % size, json.dumps(node_id)] if ttl_ms > 0 else []

    async def ping(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        """Drop the wake connection (and the client, with ``close_client``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._wake.close()
        if self._close_client:
            await self.store.client.aclose()

    # -- internals ------------------------------------------------------------------------

    def _dequeue_call(self, limit: int, lease: float) -> tuple[list[str], list[Any], int]:
        store = self.store
        now_ms = store.now_ms()
        expires_at_ms = now_ms + to_ms(effective_lease(lease))
        keys = self._dequeue_keys
        args = [store.prefix, now_ms, expires_at_ms - now_ms, max(limit, 1), self._window,
                secrets.token_hex(8), store.default_queue, *self._weight_args]  # fmt: skip
        return keys, args, expires_at_ms

    def _leases(self, reply: Any, expires_at_ms: int) -> list[DurableLease]:
        self._next_due_ms = int(reply[0]) if int(reply[0]) >= 0 else None
        flags = int(reply[1])
        self._capped, self._rated = bool(flags & 1), bool(flags & 2)
        return leases_from_reply(reply, expires_at_ms)

    def _wait_timeout(self, max_wait: float) -> float:
        """``max_wait``, cut short by the next known due time (client clock)."""
        if self._next_due_ms is None:
            return max_wait
        return min(max_wait, (self._next_due_ms - self.store.now_ms()) / 1000)

    def _set_queues(
        self, default_queue: str, weights: Mapping[str, int], queues: Sequence[str] | None = None
    ) -> None:
        default = self.store.default_queue = normalize_queue(default_queue)
        only = sorted({normalize_queue(q, default) for q in queues}) if queues else []
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


def _pairs(leases: Sequence[DurableLease]) -> list[bytes | str]:
    """The settle scripts' id, token argument pairs. An id goes as its 16 bytes: the script
    spells it out (``id_text`` in lua/prelude.lua), which costs Redis less than ``str(uuid)``
    costs the worker, on the path of every ack.
    """
    return [value for lease in leases for value in (lease.task_id.bytes, lease.token)]


def _cancel_requested(lease: DurableLease, reason: bytes) -> DurableCancelRequestedError:
    return DurableCancelRequestedError(task_id=lease.task_id, reason=reason.decode(errors="replace"))


_dumps = json.JSONEncoder().encode  # ensure_ascii: the script puts it in the record as it is


def _triples(leases: Sequence[DurableLease], outputs: Sequence[str]) -> list[bytes | str]:
    """The ack script's id, token, output triples (results on; each output a JSON string literal)."""
    pairs = zip(leases, outputs, strict=True)
    return [value for lease, output in pairs for value in (lease.task_id.bytes, lease.token, output)]


def _lost(lease: DurableLease) -> DurableLeaseNotFoundError:
    return DurableLeaseNotFoundError(task_id=lease.task_id, token=lease.token)
