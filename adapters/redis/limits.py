"""The cluster-wide limits on Redis: stored once in ``P:limits``, obeyed by every node's dequeue script."""

from __future__ import annotations

import logging
from typing import Any

from pyworker.adapters.redis.store import RedisDurableStore
from pyworker.domain.limits import DurableLimits

logger = logging.getLogger("pyworker.durable")


def limits_from_hash(fields: Any) -> DurableLimits:
    """The stored limits from ``P:limits`` (HGETALL as a dict or as field, value pairs)."""
    if isinstance(fields, list):
        fields = dict(zip(fields[::2], fields[1::2], strict=True))
    text = {_text(k): _text(v) for k, v in fields.items()}
    rate = burst = None
    if "rate" in text and "burst" in text:
        rate, burst = float(text["rate"]), int(text["burst"])
    caps = {name[2:]: int(value) for name, value in text.items() if name.startswith("q:")}
    return DurableLimits(None if rate is None or burst is None else (rate, burst), caps)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def describe(limits: DurableLimits) -> str:
    """One line: ``global rate 50/s burst 10, queue q at most 3`` (``none``)."""
    parts = []
    if limits.global_rate is not None:
        rate, burst = limits.global_rate
        parts.append(f"global rate {rate:g}/s burst {burst}")
    parts += [f"queue {q} at most {n}" for q, n in sorted(limits.queue_concurrency.items())]
    return ", ".join(parts) or "none"


class RedisLimitStore:
    """Reads and writes ``P:limits`` (one script per write, so the parts change together).

    Args:
        store: the client, keys and scripts.
    """

    def __init__(self, store: RedisDurableStore) -> None:
        self._store = store

    async def read(self) -> DurableLimits:
        """The limits every node on this prefix obeys now."""
        store = self._store
        return limits_from_hash(await store.guard(store.client.hgetall(store.keys.limits)))

    async def write(self, limits: DurableLimits, *, rate: bool = True, caps: bool = True) -> DurableLimits:
        """Replace the global rate part (``rate``) and/or every queue cap (``caps``) with
        ``limits``'s; a part not named is left as stored. Returns the limits as they were.
        """
        store = self._store
        args: list[Any] = [store.prefix, "1" if rate else "0"]
        if limits.global_rate is None:
            args += ["", ""]
        else:
            args += [repr(float(limits.global_rate[0])), str(limits.global_rate[1])]
        args += [store.global_rate_key, "1" if caps else "0"]
        for queue, cap in sorted(limits.queue_concurrency.items()):
            args += [queue, str(cap)]
        old = await store.run(store.scripts.limits, [store.keys.limits], args)
        return limits_from_hash(old)

    async def apply_node_limits(self, limits: DurableLimits, *, rate: bool, caps: bool) -> None:
        """A node's configured parts, written at its start; a change to what other nodes stored is logged."""
        if not (rate or caps):
            return
        old = await self.write(limits, rate=rate, caps=caps)
        changed = (rate and old.global_rate != limits.global_rate) or (
            caps and dict(old.queue_concurrency) != dict(limits.queue_concurrency)
        )
        if changed and not old.empty:
            logger.warning(
                "durable limits on %s changed by this node: were %s, now %s",
                self._store.prefix,
                describe(old),
                describe(await self.read()),
            )
