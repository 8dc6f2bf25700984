"""Idempotency keys of gRPC registrations: the store port and its bounded in-memory adapter."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import attrs
import grpc

from pyworker.adapters.grpc.status import RpcError

#: How many keys the in-memory store keeps, and for how long after completion.
DEFAULT_MAX_KEYS = 100_000
DEFAULT_KEY_TTL = 24 * 3600.0


class IdempotencyStore(Protocol):
    """Where registrations remember their idempotency keys.

    ``reserve`` claims a key for one registration; the claimant then calls exactly one
    of ``complete`` (the task id), ``fail`` (the status the request got) or ``forget``.
    """

    async def reserve(self, key: str, signature: bytes) -> str | None:
        """Claim ``key``; None when the caller now owns it.

        Returns:
            The task id recorded for the key when the same request completed before.
        Raises:
            RpcError: ALREADY_EXISTS when the key was used with another signature;
                the recorded status when that request failed. A claim in flight
                elsewhere is waited for.
        """
        ...

    async def complete(self, key: str, task_id: str) -> None: ...

    async def fail(self, key: str, code: grpc.StatusCode, message: str) -> None: ...

    async def forget(self, key: str) -> None: ...


def already_used(key: str) -> RpcError:
    return RpcError(grpc.StatusCode.ALREADY_EXISTS, f'idempotency key "{key[:200]}" already used for different task')


@attrs.define
class _Entry:
    signature: bytes
    done: asyncio.Event = attrs.field(factory=asyncio.Event)
    task_id: str | None = None
    status: tuple[grpc.StatusCode, str] | None = None
    expires_at: float = float("inf")


class InMemoryIdempotencyStore:
    """Keys of one server process: at most ``max_keys``, each kept ``ttl`` seconds
    after its registration completed (the oldest completed keys go first when full).
    """

    def __init__(
        self,
        max_keys: int = DEFAULT_MAX_KEYS,
        ttl: float = DEFAULT_KEY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1 or ttl <= 0:
            raise ValueError("max_keys must be >= 1 and ttl > 0")
        self._max_keys = max_keys
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def reserve(self, key: str, signature: bytes) -> str | None:
        while True:
            entry = self._entries.get(key)
            if entry is not None and entry.done.is_set() and entry.expires_at <= self._clock():
                del self._entries[key]
                entry = None
            if entry is None:
                self._make_room()
                self._entries[key] = _Entry(signature)
                return None
            if entry.signature != signature:
                raise already_used(key)
            await entry.done.wait()  # a concurrent identical request: its outcome is ours
            if self._entries.get(key) is not entry:
                continue  # it was forgotten: claim afresh
            if entry.status is not None:
                raise RpcError(*entry.status)
            if not entry.task_id:
                raise RpcError(grpc.StatusCode.INTERNAL, f'idempotency key "{key[:200]}" has no task id')
            return entry.task_id

    def _make_room(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.done.is_set() and e.expires_at <= now]:
            del self._entries[key]
        if len(self._entries) < self._max_keys:
            return
        for key, entry in list(self._entries.items()):
            if entry.done.is_set():
                del self._entries[key]
                if len(self._entries) < self._max_keys:
                    return
        # Every key is in flight: keep them all rather than break a waiting caller.

    def _finish(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.expires_at = self._clock() + self._ttl
            self._entries.move_to_end(key)
        return entry

    async def complete(self, key: str, task_id: str) -> None:
        entry = self._finish(key)
        if entry is not None:
            entry.task_id = task_id
            entry.done.set()

    async def fail(self, key: str, code: grpc.StatusCode, message: str) -> None:
        entry = self._finish(key)
        if entry is not None:
            entry.status = (code, message)
            entry.done.set()

    async def forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            entry.done.set()
