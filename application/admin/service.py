"""AdminService: go-worker's admin plane written once; the gRPC servicer, an HTTP gateway and a page call it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import attrs

from pyworker.application.admin.audit import AuditRecorder, RequestContext
from pyworker.application.admin.dlq import DeadLetterAdmin, DeadLetterPage
from pyworker.application.admin.guardrails import AdminGuardrails, RunRateLimiter
from pyworker.application.admin.ports import DEFAULT_AUDIT_LIMIT, AuditLog, QueueWeightStore
from pyworker.application.admin.queues import QueueAdmin
from pyworker.application.admin.schedules import ScheduleEntry, ScheduleEvent, ScheduleOps
from pyworker.application.clock import LoopClock
from pyworker.application.inspector import DurableInspector
from pyworker.application.ports import Clock, NodeRegistry
from pyworker.application.schedules.service import ScheduleService
from pyworker.domain import DurableTaskRecord, NodeInfo
from pyworker.domain.admin import AdminUnsupportedError, AuditEvent, QueueSummary

T = TypeVar("T")
EVERY = "*"
JOBS_UNSUPPORTED = "container jobs are not supported by pyworker"


@attrs.frozen
class Overview:
    """GetOverview's answer: ready tasks and queues not paused, live workers, the global pause,
    and this process's action counters. ``active_workers`` is -1 without a node registry."""

    active_workers: int
    queued_tasks: int
    queues: int
    paused: bool
    pauses: int
    resumes: int
    replays: int


@attrs.define
class _Counters:
    pause: int = 0
    resume: int = 0
    replay: int = 0


class AdminService:
    """Every admin action of go-worker's AdminService (docs/grpc.md, "gRPC AdminService").

    Mutating methods take the caller's RequestContext first and record one audit event
    (success or failure, guardrail refusals included). Errors are WorkerErrors whose kind
    ``pyworker.application.admin.error_code`` names for each transport's table.

    Args:
        inspector: the durable store's operator port.
        weights, audit: the admin ports (a backend's ``queue_weights()`` and ``audit_log()``).
        schedules: the TaskManager's ScheduleService (``manager.schedules``); None: schedule
            actions raise AdminUnsupportedError.
        nodes: the node registry, for the overview's live worker count.
        guardrails: approval and limits (default: go-worker's defaults, approval off).
    """

    def __init__(
        self,
        inspector: DurableInspector,
        weights: QueueWeightStore,
        audit: AuditLog,
        *,
        schedules: ScheduleService | None = None,
        nodes: NodeRegistry | None = None,
        guardrails: AdminGuardrails | None = None,
        clock: Clock | None = None,
    ) -> None:
        clock = clock if clock is not None else LoopClock()
        self.guardrails = guardrails if guardrails is not None else AdminGuardrails()
        self._inspector = inspector
        self._audit = audit
        self._recorder = AuditRecorder(audit, clock)
        self._rate = RunRateLimiter(self.guardrails, clock)
        self._nodes = nodes
        self.queues = QueueAdmin(inspector, weights)
        self.dlq = DeadLetterAdmin(inspector)
        self.schedules = ScheduleOps(schedules, clock)
        self._counters = _Counters()

    # -- reads ------------------------------------------------------------------------------

    async def overview(self) -> Overview:
        stats = await self._inspector.stats()
        active = [q for q in stats.queues if not q.paused]
        workers = -1 if self._nodes is None else sum(n.running for n in await self._nodes.list_nodes())
        c = self._counters
        return Overview(workers, sum(q.ready for q in active), len(active), stats.paused, c.pause, c.resume, c.replay)

    async def live_nodes(self) -> list[NodeInfo] | None:
        """The worker nodes with a live heartbeat; None without a node registry."""
        return None if self._nodes is None else await self._nodes.list_nodes()

    async def list_queues(self) -> list[QueueSummary]:
        return await self.queues.summaries()

    async def get_queue(self, name: str) -> QueueSummary:
        return await self.queues.get(name)

    async def list_dlq(
        self, *, limit: int = 0, offset: int = 0, queue: str = "", handler: str = "", query: str = ""
    ) -> DeadLetterPage:
        return await self.dlq.page(limit=limit, offset=offset, queue=queue, handler=handler, query=query)

    async def get_dlq_entry(self, task_id: str) -> DurableTaskRecord:
        return await self.dlq.get(task_id)

    async def list_schedules(self) -> list[ScheduleEntry]:
        return await self.schedules.entries()

    async def schedule_factories(self) -> list[tuple[str, bool]]:
        return self.schedules.factories()

    async def schedule_events(self, name: str = "", limit: int = 0) -> list[ScheduleEvent]:
        return await self.schedules.events(name, limit)

    async def audit_events(self, *, action: str = "", target: str = "", limit: int = 0) -> list[AuditEvent]:
        return await self._audit.events(action=action.strip(), target=target.strip(),
                                        limit=limit if limit > 0 else DEFAULT_AUDIT_LIMIT)  # fmt: skip

    # -- queues -----------------------------------------------------------------------------

    async def update_queue_weight(self, ctx: RequestContext, name: str, weight: int) -> QueueSummary:
        fields = {"name": name, "weight": weight}
        return await self._run(ctx, "queue.update_weight", name, fields,
                               lambda: self.queues.update_weight(name, weight))  # fmt: skip

    async def reset_queue_weight(self, ctx: RequestContext, name: str) -> QueueSummary:
        return await self._run(ctx, "queue.reset_weight", name, {"name": name}, lambda: self.queues.reset_weight(name))

    async def pause_queue(self, ctx: RequestContext, name: str, paused: bool) -> QueueSummary:
        fields = {"name": name, "paused": paused}
        return await self._run(ctx, "queue.pause", name, fields, lambda: self.queues.pause(name, paused))

    # -- dequeue and the DLQ ----------------------------------------------------------------

    async def pause_dequeue(self, ctx: RequestContext) -> bool:
        await self._run(ctx, "dequeue.pause", EVERY, {}, lambda: self._inspector.pause(None))
        self._counters.pause += 1
        return True

    async def resume_dequeue(self, ctx: RequestContext) -> bool:
        await self._run(ctx, "dequeue.resume", EVERY, {}, lambda: self._inspector.resume(None))
        self._counters.resume += 1
        return False

    async def replay_dlq(self, ctx: RequestContext, limit: int) -> int:
        async def replay() -> int:
            self.guardrails.check_approval(ctx)
            self.guardrails.check_replay_limit(limit if limit > 0 else 100)
            return await self.dlq.replay(limit)

        moved = await self._run(ctx, "dlq.replay", EVERY, {"limit": limit}, replay)
        self._counters.replay += 1
        return moved

    async def replay_dlq_ids(self, ctx: RequestContext, ids: Sequence[str]) -> int:
        async def replay() -> int:
            self.guardrails.check_approval(ctx)
            self.guardrails.check_replay_ids(len(ids))
            return await self.dlq.replay_ids(list(ids))

        moved = await self._run(ctx, "dlq.replay_ids", EVERY, {"ids": list(ids)}, replay)
        self._counters.replay += 1
        return moved

    # -- schedules --------------------------------------------------------------------------

    async def create_schedule(self, ctx: RequestContext, name: str, spec: str, durable: bool) -> ScheduleEntry:
        fields = {"name": name, "spec": spec, "durable": durable}
        return await self._run(ctx, "schedule.create", name, fields,
                               lambda: self.schedules.create(name, spec, durable))  # fmt: skip

    async def delete_schedule(self, ctx: RequestContext, name: str) -> bool:
        return await self._run(ctx, "schedule.delete", name, {"name": name}, lambda: self.schedules.delete(name))

    async def pause_schedule(self, ctx: RequestContext, name: str, paused: bool) -> ScheduleEntry:
        fields = {"name": name, "paused": paused}
        return await self._run(ctx, "schedule.pause", name, fields, lambda: self.schedules.pause(name, paused))

    async def pause_schedules(self, ctx: RequestContext, paused: bool) -> int:
        return await self._run(ctx, "schedule.pause_all", EVERY, {"paused": paused},
                               lambda: self.schedules.pause_all(paused))  # fmt: skip

    async def run_schedule(self, ctx: RequestContext, name: str) -> uuid.UUID | None:
        async def run() -> uuid.UUID | None:
            self.guardrails.check_approval(ctx)
            self._rate.admit(name.strip())
            return await self.schedules.run_now(name)

        return await self._run(ctx, "schedule.run", name, {"name": name}, run)

    # -- container jobs (not supported) -----------------------------------------------------

    async def job_action(self, ctx: RequestContext, action: str, target: str, fields: dict[str, Any]) -> None:
        """Record and refuse a container-job action (``job.upsert``, ``job.delete``, ``job.run``)."""
        await self._run(ctx, action, target, fields, self._no_jobs)

    @staticmethod
    async def _no_jobs() -> None:
        raise AdminUnsupportedError(reason=JOBS_UNSUPPORTED)

    async def refused(
        self, ctx: RequestContext, action: str, target: str, fields: dict[str, Any], exc: BaseException
    ) -> None:
        """Record an action a transport refused before calling here (its auth check)."""
        await self._recorder.refused(ctx, action, (target or "").strip() or EVERY, fields, exc)

    async def audited(
        self, ctx: RequestContext, action: str, target: str, fields: dict[str, Any], call: Callable[[], Awaitable[T]]
    ) -> T:
        """Run a transport's own action (one go-worker's service has not: the page's DLQ delete,
        say) and record it like the service's own (docs/admin.md)."""
        return await self._run(ctx, action, target, fields, call)

    async def _run(
        self, ctx: RequestContext, action: str, target: str, fields: dict[str, Any], call: Callable[[], Awaitable[T]]
    ) -> T:
        return await self._recorder.run(ctx, action, (target or "").strip() or EVERY, fields, call())
