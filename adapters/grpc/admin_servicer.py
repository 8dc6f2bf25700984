"""The worker.v1 AdminService servicer: decode, call the AdminService, encode (docs/grpc.md, "gRPC AdminService")."""

from __future__ import annotations

import inspect
import platform
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any, NoReturn, TypeVar

import grpc

from pyworker.adapters.clock import SystemClock
from pyworker.adapters.grpc.admin_mapping import (
    admin_status,
    audit_message,
    dlq_detail,
    dlq_entry,
    fields,
    overview_message,
    queue_message,
    request_context,
    sat32,
    schedule_entry,
    schedule_event,
)
from pyworker.adapters.grpc.auth import AuthFunction
from pyworker.adapters.grpc.status import RpcError
from pyworker.application.admin import JOBS_UNSUPPORTED, AdminService, RequestContext
from pyworker.application.ports import Clock
from pyworker.domain.admin import AdminError, AdminUnsupportedError
from pyworker.protos.worker.v1 import admin_pb2 as pb
from pyworker.protos.worker.v1 import admin_pb2_grpc

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]
_SERVICE = "/worker.v1.AdminService/"
#: (action, target, request fields) of a mutating RPC: what its audit event records.
Audit = tuple[str, str, dict[str, Any]]


def _version() -> str:
    try:
        return metadata.version("pyworker")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "dev"


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """Serves one AdminService behind the server's auth function.

    Every RPC runs auth first (a refusal of a mutating RPC is audited too), then one
    AdminService call; errors map through one table (``admin_mapping.ADMIN_STATUS``).
    The container-job RPCs answer UNIMPLEMENTED.
    """

    def __init__(self, admin: AdminService, *, auth: AuthFunction | None = None, clock: Clock | None = None) -> None:
        self._admin = admin
        self._auth = auth
        self._clock: Clock = clock if clock is not None else SystemClock()

    async def _serve(
        self, context: Context, method: str, request: Any, call: Callable[[RequestContext], Awaitable[T]],
        audit: Audit | None = None,
    ) -> T:  # fmt: skip
        ctx = request_context(context.invocation_metadata())
        if self._auth is not None:
            try:
                outcome = self._auth(context, _SERVICE + method, request)
                if inspect.isawaitable(outcome):
                    await outcome
            except RpcError as exc:
                await self._refuse(context, ctx, audit, exc, exc.code, exc.message)
            except grpc.aio.AbortError:
                raise  # the auth function aborted with its own status
            except Exception as exc:  # any other refusal, as go-worker answers it
                await self._refuse(context, ctx, audit, exc, grpc.StatusCode.PERMISSION_DENIED, "unauthorized")
        try:
            return await call(ctx)
        except Exception as exc:
            code, message = admin_status(exc)
            await context.abort(code, message)
            raise AssertionError("abort returns only by raising") from exc  # pragma: no cover

    async def _refuse(
        self, context: Context, ctx: RequestContext, audit: Audit | None, exc: BaseException,
        code: grpc.StatusCode, message: str,
    ) -> NoReturn:  # fmt: skip
        if audit is not None:
            await self._admin.refused(ctx, *audit, exc)
        await context.abort(code, message)
        raise AssertionError("abort returns only by raising")  # pragma: no cover

    # -- health, overview, queues -----------------------------------------------------------

    async def GetHealth(self, request: pb.GetHealthRequest, context: Context) -> pb.GetHealthResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.GetHealthResponse:
            runtime = f"python{platform.python_version()}"  # the field go-worker fills with its Go version
            return pb.GetHealthResponse(status="ok", version=_version(), go_version=runtime)

        return await self._serve(context, "GetHealth", request, call)

    async def GetOverview(self, request: pb.GetOverviewRequest, context: Context) -> pb.GetOverviewResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.GetOverviewResponse:
            return overview_message(await self._admin.overview())

        return await self._serve(context, "GetOverview", request, call)

    async def ListQueues(self, request: pb.ListQueuesRequest, context: Context) -> pb.ListQueuesResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.ListQueuesResponse:
            return pb.ListQueuesResponse(queues=[queue_message(q) for q in await self._admin.list_queues()])

        return await self._serve(context, "ListQueues", request, call)

    async def GetQueue(self, request: pb.GetQueueRequest, context: Context) -> pb.GetQueueResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.GetQueueResponse:
            return pb.GetQueueResponse(queue=queue_message(await self._admin.get_queue(request.name)))

        return await self._serve(context, "GetQueue", request, call)

    async def UpdateQueueWeight(  # noqa: N802
        self, request: pb.UpdateQueueWeightRequest, context: Context
    ) -> pb.UpdateQueueWeightResponse:
        async def call(ctx: RequestContext) -> pb.UpdateQueueWeightResponse:
            summary = await self._admin.update_queue_weight(ctx, request.name, request.weight)
            return pb.UpdateQueueWeightResponse(queue=queue_message(summary))

        audit = ("queue.update_weight", request.name, fields(request))
        return await self._serve(context, "UpdateQueueWeight", request, call, audit)

    async def ResetQueueWeight(  # noqa: N802
        self, request: pb.ResetQueueWeightRequest, context: Context
    ) -> pb.ResetQueueWeightResponse:
        async def call(ctx: RequestContext) -> pb.ResetQueueWeightResponse:
            summary = await self._admin.reset_queue_weight(ctx, request.name)
            return pb.ResetQueueWeightResponse(queue=queue_message(summary))

        audit = ("queue.reset_weight", request.name, fields(request))
        return await self._serve(context, "ResetQueueWeight", request, call, audit)

    async def PauseQueue(self, request: pb.PauseQueueRequest, context: Context) -> pb.PauseQueueResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.PauseQueueResponse:
            summary = await self._admin.pause_queue(ctx, request.name, request.paused)
            return pb.PauseQueueResponse(queue=queue_message(summary))

        audit = ("queue.pause", request.name, fields(request))
        return await self._serve(context, "PauseQueue", request, call, audit)

    # -- container jobs: not supported --------------------------------------------------------

    async def _no_jobs(self, context: Context, method: str, request: Any, audit: Audit | None = None) -> NoReturn:
        async def call(ctx: RequestContext) -> None:
            if audit is None:
                raise AdminUnsupportedError(reason=JOBS_UNSUPPORTED)
            await self._admin.job_action(ctx, *audit)

        await self._serve(context, method, request, call, audit)
        raise AssertionError("job RPCs always fail")  # pragma: no cover

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:  # noqa: N802
        await self._no_jobs(context, "ListJobs", request)

    async def ListJobEvents(self, request: pb.ListJobEventsRequest, context: Context) -> pb.ListJobEventsResponse:  # noqa: N802
        await self._no_jobs(context, "ListJobEvents", request)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:  # noqa: N802
        await self._no_jobs(context, "GetJob", request)

    async def UpsertJob(self, request: pb.UpsertJobRequest, context: Context) -> pb.UpsertJobResponse:  # noqa: N802
        await self._no_jobs(context, "UpsertJob", request, ("job.upsert", request.spec.name, fields(request)))

    async def DeleteJob(self, request: pb.DeleteJobRequest, context: Context) -> pb.DeleteJobResponse:  # noqa: N802
        await self._no_jobs(context, "DeleteJob", request, ("job.delete", request.name, fields(request)))

    async def RunJob(self, request: pb.RunJobRequest, context: Context) -> pb.RunJobResponse:  # noqa: N802
        await self._no_jobs(context, "RunJob", request, ("job.run", request.name, fields(request)))

    # -- audit ------------------------------------------------------------------------------

    async def ListAuditEvents(  # noqa: N802
        self, request: pb.ListAuditEventsRequest, context: Context
    ) -> pb.ListAuditEventsResponse:
        async def call(_: RequestContext) -> pb.ListAuditEventsResponse:
            events = await self._admin.audit_events(action=request.action, target=request.target, limit=request.limit)
            return pb.ListAuditEventsResponse(events=[audit_message(e) for e in events])

        return await self._serve(context, "ListAuditEvents", request, call)

    # -- schedules --------------------------------------------------------------------------

    async def ListScheduleFactories(  # noqa: N802
        self, request: pb.ListScheduleFactoriesRequest, context: Context
    ) -> pb.ListScheduleFactoriesResponse:
        async def call(_: RequestContext) -> pb.ListScheduleFactoriesResponse:
            found = await self._admin.schedule_factories()
            return pb.ListScheduleFactoriesResponse(factories=[pb.ScheduleFactory(name=n, durable=d) for n, d in found])

        return await self._serve(context, "ListScheduleFactories", request, call)

    async def ListScheduleEvents(  # noqa: N802
        self, request: pb.ListScheduleEventsRequest, context: Context
    ) -> pb.ListScheduleEventsResponse:
        async def call(_: RequestContext) -> pb.ListScheduleEventsResponse:
            events = await self._admin.schedule_events(request.name, request.limit)
            return pb.ListScheduleEventsResponse(events=[schedule_event(e) for e in events])

        return await self._serve(context, "ListScheduleEvents", request, call)

    async def ListSchedules(self, request: pb.ListSchedulesRequest, context: Context) -> pb.ListSchedulesResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.ListSchedulesResponse:
            entries = await self._admin.list_schedules()
            return pb.ListSchedulesResponse(schedules=[schedule_entry(e) for e in entries])

        return await self._serve(context, "ListSchedules", request, call)

    async def CreateSchedule(  # noqa: N802
        self, request: pb.CreateScheduleRequest, context: Context
    ) -> pb.CreateScheduleResponse:
        async def call(ctx: RequestContext) -> pb.CreateScheduleResponse:
            entry = await self._admin.create_schedule(ctx, request.name, request.spec, request.durable)
            return pb.CreateScheduleResponse(schedule=schedule_entry(entry))

        audit = ("schedule.create", request.name, fields(request))
        return await self._serve(context, "CreateSchedule", request, call, audit)

    async def DeleteSchedule(  # noqa: N802
        self, request: pb.DeleteScheduleRequest, context: Context
    ) -> pb.DeleteScheduleResponse:
        async def call(ctx: RequestContext) -> pb.DeleteScheduleResponse:
            return pb.DeleteScheduleResponse(deleted=await self._admin.delete_schedule(ctx, request.name))

        audit = ("schedule.delete", request.name, fields(request))
        return await self._serve(context, "DeleteSchedule", request, call, audit)

    async def PauseSchedule(self, request: pb.PauseScheduleRequest, context: Context) -> pb.PauseScheduleResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.PauseScheduleResponse:
            entry = await self._admin.pause_schedule(ctx, request.name, request.paused)
            return pb.PauseScheduleResponse(schedule=schedule_entry(entry))

        audit = ("schedule.pause", request.name, fields(request))
        return await self._serve(context, "PauseSchedule", request, call, audit)

    async def RunSchedule(self, request: pb.RunScheduleRequest, context: Context) -> pb.RunScheduleResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.RunScheduleResponse:
            task_id = await self._admin.run_schedule(ctx, request.name)
            if task_id is None:
                raise AdminError(reason=f"schedule {request.name.strip()}: its factory failed (see the log)")
            return pb.RunScheduleResponse(task_id=str(task_id))

        audit = ("schedule.run", request.name, fields(request))
        return await self._serve(context, "RunSchedule", request, call, audit)

    async def PauseSchedules(  # noqa: N802
        self, request: pb.PauseSchedulesRequest, context: Context
    ) -> pb.PauseSchedulesResponse:
        async def call(ctx: RequestContext) -> pb.PauseSchedulesResponse:
            updated = await self._admin.pause_schedules(ctx, request.paused)
            return pb.PauseSchedulesResponse(updated=sat32(updated), paused=request.paused)

        audit = ("schedule.pause_all", "*", fields(request))
        return await self._serve(context, "PauseSchedules", request, call, audit)

    # -- the DLQ and dequeue ----------------------------------------------------------------

    async def ListDLQ(self, request: pb.ListDLQRequest, context: Context) -> pb.ListDLQResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.ListDLQResponse:
            page = await self._admin.list_dlq(limit=request.limit, offset=request.offset, queue=request.queue,
                                              handler=request.handler, query=request.query)  # fmt: skip
            now = self._clock.now()
            return pb.ListDLQResponse(entries=[dlq_entry(r, now) for r in page.entries], total=page.total)

        return await self._serve(context, "ListDLQ", request, call)

    async def GetDLQEntry(self, request: pb.GetDLQEntryRequest, context: Context) -> pb.GetDLQEntryResponse:  # noqa: N802
        async def call(_: RequestContext) -> pb.GetDLQEntryResponse:
            record = await self._admin.get_dlq_entry(request.id)
            return pb.GetDLQEntryResponse(entry=dlq_detail(record, self._clock.now()))

        return await self._serve(context, "GetDLQEntry", request, call)

    async def PauseDequeue(self, request: pb.PauseDequeueRequest, context: Context) -> pb.PauseDequeueResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.PauseDequeueResponse:
            return pb.PauseDequeueResponse(paused=await self._admin.pause_dequeue(ctx))

        return await self._serve(context, "PauseDequeue", request, call, ("dequeue.pause", "*", {}))

    async def ResumeDequeue(self, request: pb.ResumeDequeueRequest, context: Context) -> pb.ResumeDequeueResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.ResumeDequeueResponse:
            return pb.ResumeDequeueResponse(paused=await self._admin.resume_dequeue(ctx))

        return await self._serve(context, "ResumeDequeue", request, call, ("dequeue.resume", "*", {}))

    async def ReplayDLQ(self, request: pb.ReplayDLQRequest, context: Context) -> pb.ReplayDLQResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.ReplayDLQResponse:
            return pb.ReplayDLQResponse(moved=sat32(await self._admin.replay_dlq(ctx, request.limit)))

        return await self._serve(context, "ReplayDLQ", request, call, ("dlq.replay", "*", fields(request)))

    async def ReplayDLQByID(self, request: pb.ReplayDLQByIDRequest, context: Context) -> pb.ReplayDLQByIDResponse:  # noqa: N802
        async def call(ctx: RequestContext) -> pb.ReplayDLQByIDResponse:
            return pb.ReplayDLQByIDResponse(moved=sat32(await self._admin.replay_dlq_ids(ctx, list(request.ids))))

        return await self._serve(context, "ReplayDLQByID", request, call, ("dlq.replay_ids", "*", fields(request)))
