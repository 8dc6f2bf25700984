"""The admin plane's store ports: persisted queue weights and the audit log."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pyworker.domain.admin import AuditEvent

#: ListAuditEvents' default page (go-worker's: a limit <= 0 reads 200).
DEFAULT_AUDIT_LIMIT = 200


@runtime_checkable
class QueueWeightStore(Protocol):
    """Dequeue weights kept next to the tasks, so every node's dequeue uses them
    (unlike go-worker, whose weights live in the serving process: docs/differences.md).

    A stored weight overrides the weight a node was configured with for that queue;
    a queue without a stored weight keeps its node's configured weight (1 by default).
    Technology errors surface as ``BackendUnavailableError``.
    """

    async def weights(self) -> dict[str, int]:
        """Every stored weight, by queue name."""
        ...

    async def set_weight(self, queue: str, weight: int) -> None:
        """Store ``weight`` (>= 1) for ``queue`` and make the queue known (listed by ``stats``), in one step."""
        ...

    async def reset_weight(self, queue: str) -> bool:
        """Forget the stored weight of ``queue``; True if one was stored."""
        ...


@runtime_checkable
class AuditLog(Protocol):
    """A bounded log of admin actions, newest first, shared by every admin process of a store.

    ``record`` keeps at most the log's capacity (older events are dropped) and is
    atomic; events older than the log's retention (when it has one) are not returned.
    Technology errors surface as ``BackendUnavailableError``.
    """

    async def record(self, event: AuditEvent) -> None:
        """Append ``event`` at the newest end."""
        ...

    async def events(self, *, action: str = "", target: str = "", limit: int = DEFAULT_AUDIT_LIMIT) -> list[AuditEvent]:
        """Up to ``limit`` events (newest first) whose action and target equal the
        given ones (an empty filter matches every event)."""
        ...


@runtime_checkable
class AdminStoreProvider(Protocol):
    """A durable backend that keeps the admin plane's state (the in-memory and Redis backends)."""

    def queue_weights(self) -> QueueWeightStore: ...

    def audit_log(self) -> AuditLog: ...
