"""Redis key names for the durable backend: the only place they are spelled in Python.

The Lua scripts build per-queue and per-task names from the same prefix (see
``lua/prelude.lua``); both follow this table. ``P`` is the effective prefix.

    P:queues              set     every queue name ever enqueued to
    P:ready:<queue>       zset    score = priority, member = rank (weight, sequence, id): exact order
    P:delayed:<queue>     zset    score = ready-at ms, member = id
    P:processing:<queue>  zset    score = lease expiry ms, member = id
    P:task:<id>           hash    the task record (fields in docs/durable.md)
    P:dead                list    DLQ ids, newest first
    P:paused              string  "1" while dequeue is paused for every queue
    P:paused:queues       set     queues paused one by one
    P:idem:<key>          string  idempotency key -> task id
    P:seq                 string  counter for FIFO ranks
    P:rr                  hash    weighted round robin state (cursor, per-queue quota)
    P:wake                list    wake-up tokens for idle workers (BLPOP)
    P:nodes               zset    node registry index: score = expiry ms, member = node id
    P:node:<id>           hash    one node's last heartbeat (PEXPIRE ttl; docs/cluster.md#nodes)
    P:weights             hash    queue -> dequeue weight stored by the admin plane (every node's dequeue)
    P:admin:audit_events  list    admin audit events as JSON, newest first, capped (docs/grpc.md)
    P:admin:history       zset    score = bucket start (s), member = one depth/throughput sample, JSON (docs/admin.md)
    P:cancel              channel pub/sub: "<id> <reason>" for each leased task cancelled
                                  (docs/cluster.md#cancellation)
    P:result:<id>         string  a settled task's outcome, JSON (PX result ttl; docs/cluster.md#results)
    P:results             stream  outcomes in settling order, field r = the same JSON (MAXLEN ~)
    P:limits              hash    limits every node obeys: rate, burst, bucket (the bucket's name), q:<queue> = cap
                                  (docs/cluster.md#limits)
    <raw>:global_rate     hash    the global token bucket: tokens, ts (go-worker's name, unbraced:
                                  the raw prefix; ``{raw}:global_rate`` on Redis Cluster, see global_rate_key)
"""

from __future__ import annotations

import uuid

import attrs


def effective_prefix(prefix: str) -> str:
    """go-worker's rule (docs/durable.md#redis-layout): a prefix with ``{`` is used verbatim, else it
    becomes the hash tag ``{prefix}`` so every key lands in one Redis Cluster slot.
    """
    prefix = prefix or "pyworker"
    return prefix if "{" in prefix else "{" + prefix + "}"


def global_rate_key(prefix: str, cluster: bool) -> str:
    """The global rate bucket: go-worker's ``<raw prefix>:global_rate``, so a Go node on the same
    prefix shares it (docs/cluster.md#limits). On Redis Cluster the braced ``{prefix}:global_rate``:
    the dequeue script takes tokens atomically with its leases, and a script reaches one slot only.
    """
    raw = prefix or "pyworker"
    return f"{effective_prefix(raw) if cluster else raw}:global_rate"


@attrs.frozen
class RedisKeys:
    """Key names under one effective prefix."""

    prefix: str = attrs.field(converter=effective_prefix)

    @property
    def queues(self) -> str:
        return f"{self.prefix}:queues"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def paused(self) -> str:
        return f"{self.prefix}:paused"

    @property
    def paused_queues(self) -> str:
        return f"{self.prefix}:paused:queues"

    @property
    def seq(self) -> str:
        return f"{self.prefix}:seq"

    @property
    def round_robin(self) -> str:
        return f"{self.prefix}:rr"

    @property
    def wake(self) -> str:
        return f"{self.prefix}:wake"

    @property
    def cancel(self) -> str:
        """The pub/sub channel cancel requests of leased tasks go out on."""
        return f"{self.prefix}:cancel"

    @property
    def limits(self) -> str:
        return f"{self.prefix}:limits"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    @property
    def weights(self) -> str:
        return f"{self.prefix}:weights"

    @property
    def audit_events(self) -> str:
        return f"{self.prefix}:admin:audit_events"

    @property
    def admin_history(self) -> str:
        return f"{self.prefix}:admin:history"

    @property
    def results(self) -> str:
        return f"{self.prefix}:results"

    def result(self, task_id: uuid.UUID | str) -> str:
        return f"{self.prefix}:result:{task_id}"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    def ready(self, queue: str) -> str:
        return f"{self.prefix}:ready:{queue}"

    def delayed(self, queue: str) -> str:
        return f"{self.prefix}:delayed:{queue}"

    def processing(self, queue: str) -> str:
        return f"{self.prefix}:processing:{queue}"

    def task(self, task_id: uuid.UUID | str) -> str:
        return f"{self.prefix}:task:{task_id}"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}:idem:{key}"

    @property
    def pattern(self) -> str:
        """A SCAN MATCH pattern for every key of this prefix (glob characters escaped)."""
        escaped = "".join("\\" + ch if ch in "*?[]\\" else ch for ch in self.prefix)
        return escaped + ":*"
