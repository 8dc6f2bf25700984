"""Idempotency keys of gRPC registrations in Redis, shared by every node on the same prefix.

One string per key, ``P:grpc:idem:<key>``, holding JSON: ``{"sig", "state"}`` with
``state`` ``pending`` (a registration in flight, expires after ``pending_ttl`` so a
crashed node cannot hold a key for ever), ``done`` (``id``) or ``failed``
(``code``, ``message``), kept ``ttl`` seconds after completion.
"""

from __future__ import annotations

import asyncio
import json

import grpc
import redis.exceptions

from pyworker.adapters.grpc.idempotency import DEFAULT_KEY_TTL, already_used
from pyworker.adapters.grpc.status import RpcError
from pyworker.adapters.redis.client import RedisClient
from pyworker.adapters.redis.keys import effective_prefix
from pyworker.domain import BackendUnavailableError

#: How often a caller waiting on another node's in-flight key looks again (seconds).
POLL_INTERVAL = 0.01


class RedisIdempotencyStore:
    """Keys in Redis under ``prefix`` (the durable backend's, so one cluster slot)."""

    def __init__(
        self, client: RedisClient, prefix: str, ttl: float = DEFAULT_KEY_TTL, pending_ttl: float = 30.0
    ) -> None:
        self._client = client
        self._prefix = effective_prefix(prefix)
        self._ttl_ms = int(ttl * 1000)
        self._pending_ms = int(pending_ttl * 1000)
        self._claims: dict[str, str] = {}  # key -> signature (hex) of this node's claims in flight

    def _name(self, key: str) -> str:
        return f"{self._prefix}:grpc:idem:{key}"

    async def reserve(self, key: str, signature: bytes) -> str | None:
        sig = signature.hex()
        pending = json.dumps({"sig": sig, "state": "pending"})
        try:
            while True:
                if await self._client.set(self._name(key), pending, nx=True, px=self._pending_ms):
                    self._claims[key] = sig
                    return None
                raw = await self._client.get(self._name(key))
                if raw is None:
                    continue  # expired or forgotten in between: claim again
                entry = json.loads(raw)
                if entry.get("sig") != sig:
                    raise already_used(key)
                if entry["state"] == "done":
                    return str(entry["id"])
                if entry["state"] == "failed":
                    raise RpcError(grpc.StatusCode[entry["code"]], str(entry["message"]))
                await asyncio.sleep(POLL_INTERVAL)  # another node's registration is in flight
        except redis.exceptions.RedisError as exc:
            raise BackendUnavailableError(reason=f"idempotency key: {exc}") from exc

    async def _store(self, key: str, fields: dict[str, str]) -> None:
        sig = self._claims.pop(key, None)
        if sig is None:
            return
        try:
            await self._client.set(self._name(key), json.dumps({"sig": sig, **fields}), px=self._ttl_ms)
        except redis.exceptions.RedisError as exc:
            raise BackendUnavailableError(reason=f"idempotency key: {exc}") from exc

    async def complete(self, key: str, task_id: str) -> None:
        await self._store(key, {"state": "done", "id": task_id})

    async def fail(self, key: str, code: grpc.StatusCode, message: str) -> None:
        await self._store(key, {"state": "failed", "code": code.name, "message": message})

    async def forget(self, key: str) -> None:
        self._claims.pop(key, None)
        try:
            await self._client.delete(self._name(key))
        except redis.exceptions.RedisError as exc:
            raise BackendUnavailableError(reason=f"idempotency key: {exc}") from exc
