"""Durable tasks, their leases and the records that operators read."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from pyworker.domain.duration import to_epoch, to_seconds

#: How long a dequeued task stays leased when no lease is given (go-worker's default).
DEFAULT_LEASE = 30.0
#: How long an idempotency key keeps deduplicating after its task is acked.
DEFAULT_IDEMPOTENCY_TTL = 24 * 3600.0


def _frozen_metadata(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class DurableTask:
    """A task persisted in a durable backend and run by any worker node.

    ``message`` is the decoded payload (what the handler receives); ``payload``
    is its encoded bytes. At least one must be given at registration.
    """

    handler: str
    message: Any = None
    payload: bytes | None = None
    id: uuid.UUID | None = None
    priority: int = 0
    run_at: float | None = attrs.field(default=None, converter=to_epoch)
    queue: str = ""
    weight: int = 0
    retries: int = 0
    retry_delay: float = attrs.field(default=0.0, converter=to_seconds)
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_metadata)
    idempotency_key: str = ""
    name: str = ""


@attrs.frozen
class DurableLease:
    """A task handed to one worker until ``expires_at``.

    ``token`` fences the lease: ack, nack, fail and extend must present it, and
    a token from an earlier dequeue of the same task is refused.
    """

    task: DurableTask
    token: str
    attempts: int
    max_retries: int
    expires_at: float

    @property
    def task_id(self) -> uuid.UUID:
        assert self.task.id is not None
        return self.task.id


class DurableState(enum.Enum):
    """Where a durable task is, as an operator sees it."""

    READY = "ready"
    DELAYED = "delayed"
    PROCESSING = "processing"
    DEAD = "dead"
    UNKNOWN = "unknown"


@attrs.frozen
class DurableTaskRecord:
    """A stored durable task as the read operations return it (payload included)."""

    id: uuid.UUID
    handler: str
    queue: str
    state: DurableState
    priority: int = 0
    weight: int = 1
    retries: int = 0
    retry_delay: float = 0.0
    attempts: int = 0
    ready_at: float | None = None
    updated_at: float | None = None
    lease_expires_at: float | None = None
    last_error: str = ""
    failed_at: float | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_metadata)
    idempotency_key: str = ""
    payload: bytes = b""


@attrs.frozen
class QueueStats:
    """Counts for one durable queue."""

    queue: str
    ready: int = 0
    delayed: int = 0
    processing: int = 0
    paused: bool = False


@attrs.frozen
class DurableStats:
    """Counts for a whole durable backend."""

    queues: tuple[QueueStats, ...] = ()
    dead: int = 0
    paused: bool = False

    @property
    def total_ready(self) -> int:
        return sum(q.ready for q in self.queues)

    @property
    def total_delayed(self) -> int:
        return sum(q.delayed for q in self.queues)

    @property
    def total_processing(self) -> int:
        return sum(q.processing for q in self.queues)
