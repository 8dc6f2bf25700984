"""The worker.v1 WorkerService servicer: decode, call the application, encode (docs/grpc.md)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, NoReturn

import grpc

from pyworker.adapters.grpc.auth import AuthFunction
from pyworker.adapters.grpc.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from pyworker.adapters.grpc.mapping import (
    parse_id,
    record_message,
    result_message,
    signature,
    task_message,
    to_durable_task,
    to_task,
    trace_headers,
)
from pyworker.adapters.grpc.results import ManagerResultsSource, ResultsSource
from pyworker.adapters.grpc.status import RpcError, status_of
from pyworker.application import DurableInspector, HandlerSpec, Service, TypedHandlerRegistry
from pyworker.domain import HandlerSpecInvalidError, Task, TaskNotFoundError
from pyworker.protos.worker.v1 import worker_pb2, worker_pb2_grpc

_SERVICE = "/worker.v1.WorkerService/"
Context = grpc.aio.ServicerContext[Any, Any]


def handler_specs(handlers: Mapping[str, HandlerSpec] | TypedHandlerRegistry | None) -> dict[str, HandlerSpec]:
    """A registry or mapping as a checked name -> HandlerSpec map.

    Raises:
        HandlerSpecInvalidError: an entry without a callable ``make`` and ``fn``.
    """
    items = handlers.handlers() if isinstance(handlers, TypedHandlerRegistry) else dict(handlers or {})
    for spec in items.values():
        if not callable(getattr(spec, "make", None)) or not callable(getattr(spec, "fn", None)):
            raise HandlerSpecInvalidError()
    return items


def _always(_task_id: str) -> bool:
    return True


async def _abort(context: Context, exc: BaseException, prefix: str = "") -> NoReturn:
    code, message = status_of(exc, prefix)
    await context.abort(code, message)
    raise AssertionError("abort returns only by raising")  # pragma: no cover


class WorkerServicer(worker_pb2_grpc.WorkerServiceServicer):
    """Serves one ``Service`` (a TaskManager, or one wrapped in middleware).

    Args:
        service: where tasks are registered, looked up and cancelled.
        handlers: name -> HandlerSpec; the request's ``name`` picks one.
        auth: called before every RPC (``with_grpc_auth``).
        idempotency: where idempotency keys live (default: in memory, bounded).
        results: what StreamResults reads (default: the service's own results).
        inspector: the durable store, read by GetTask/CancelTask for ids this node does not know
            (GetTask asks the service's ``get_result`` first: an outcome kept by the store).
        stream_buffer: results buffered per StreamResults call before new ones are dropped.
    """

    def __init__(
        self,
        service: Service,
        handlers: Mapping[str, HandlerSpec] | TypedHandlerRegistry | None,
        *,
        auth: AuthFunction | None = None,
        idempotency: IdempotencyStore | None = None,
        results: ResultsSource | None = None,
        inspector: DurableInspector | None = None,
        stream_buffer: int = 1024,
    ) -> None:
        self._service = service
        self._handlers = handler_specs(handlers)
        self._auth = auth
        self._idempotency: IdempotencyStore = idempotency or InMemoryIdempotencyStore()
        self._results: ResultsSource = results or ManagerResultsSource(service)
        self._inspector = inspector
        self._stream_buffer = max(stream_buffer, 1)

    async def _authorize(self, context: Context, method: str, request: Any) -> None:
        if self._auth is None:
            return
        try:
            outcome = self._auth(context, _SERVICE + method, request)
            if inspect.isawaitable(outcome):
                await outcome
        except RpcError as exc:
            await context.abort(exc.code, exc.message)
        except grpc.aio.AbortError:
            raise  # the auth function aborted with its own status
        except Exception:  # any other refusal, as go-worker answers it
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "unauthorized")

    async def _idempotent(
        self, key: str, message: Any, register: Callable[[], Awaitable[str]], known: Callable[[str], bool]
    ) -> str:
        """Register once per key: replay the recorded id (or status) for the same message."""
        if not key:
            return await register()
        fingerprint = signature(message)
        while True:
            existing = await self._idempotency.reserve(key, fingerprint)
            if existing is None:
                break
            if known(existing):
                return existing
            await self._idempotency.forget(key)  # pruned since: register afresh
        try:
            task_id = await register()
        except RpcError as exc:
            await self._idempotency.fail(key, exc.code, exc.message)
            raise
        except BaseException:
            await self._idempotency.forget(key)  # cancelled or unexpected: let a retry try again
            raise
        await self._idempotency.complete(key, task_id)
        return task_id

    def _known(self, task_id: str) -> bool:
        try:
            self._service.get_task(task_id)
        except TaskNotFoundError:
            return False
        return True

    async def RegisterTasks(  # noqa: N802 - the gRPC method name
        self, request: worker_pb2.RegisterTasksRequest, context: Context
    ) -> worker_pb2.RegisterTasksResponse:
        await self._authorize(context, "RegisterTasks", request)
        ids: list[str] = []
        trace = trace_headers(context.invocation_metadata())
        try:
            for message in request.tasks:
                key = message.idempotency_key.strip()
                if not key:  # the common case, without the idempotency machinery
                    ids.append(await self._register(message, trace))
                    continue
                register = functools.partial(self._register, message, trace)
                ids.append(await self._idempotent(key, message, register, self._known))
        except Exception as exc:
            await _abort(context, exc, "register task")
        return worker_pb2.RegisterTasksResponse(ids=ids)

    async def _register(self, message: worker_pb2.Task, trace: Mapping[str, str]) -> str:
        task = to_task(message, self._handlers, trace)
        try:
            await self._service.register_task(task)
        except Exception as exc:
            raise RpcError(*status_of(exc, "register task")) from exc
        return str(task.id)

    async def RegisterDurableTasks(  # noqa: N802
        self, request: worker_pb2.RegisterDurableTasksRequest, context: Context
    ) -> worker_pb2.RegisterDurableTasksResponse:
        await self._authorize(context, "RegisterDurableTasks", request)
        ids: list[str] = []
        trace = trace_headers(context.invocation_metadata())
        try:
            for message in request.tasks:
                ids.append(await self._idempotent(
                    message.idempotency_key.strip(),
                    message,
                    functools.partial(self._register_durable, message, trace),
                    _always,  # durable replays return the recorded id, as go-worker's do
                ))
        except Exception as exc:
            await _abort(context, exc, "register durable task")
        return worker_pb2.RegisterDurableTasksResponse(ids=ids)

    async def _register_durable(self, message: worker_pb2.DurableTask, trace: Mapping[str, str]) -> str:
        task = to_durable_task(message, self._handlers, trace)
        try:
            task_id = await self._service.register_durable_task(task)
        except Exception as exc:
            raise RpcError(*status_of(exc, "register durable task")) from exc
        return str(task_id)

    async def StreamResults(  # noqa: N802
        self, request: worker_pb2.StreamResultsRequest, context: Context
    ) -> AsyncIterator[worker_pb2.StreamResultsResponse]:
        await self._authorize(context, "StreamResults", request)
        try:
            targets = {parse_id(text) for text in request.ids}
        except RpcError as exc:
            await _abort(context, exc)
        remaining = set(targets)
        closing = request.close_on_completion and bool(targets)
        subscription = self._results.subscribe(self._stream_buffer)
        try:
            # Headers go out once subscribed: a client that awaits them knows no later result is missed.
            await context.send_initial_metadata(())
            for task_id in sorted(targets, key=str):  # already terminal: sent at once
                finished = await self._results.finished(task_id)
                if finished is not None:
                    remaining.discard(task_id)
                    yield result_message(finished)
            if closing and not remaining:
                return
            async for result in subscription:
                task_id = result.task.id
                if targets:
                    if task_id not in remaining:
                        continue  # not asked for, or already sent: the filter stays
                    remaining.discard(task_id)
                yield result_message(result)
                if closing and not remaining:
                    return
        finally:
            subscription.close()

    async def CancelTask(  # noqa: N802
        self, request: worker_pb2.CancelTaskRequest, context: Context
    ) -> worker_pb2.CancelTaskResponse:
        await self._authorize(context, "CancelTask", request)
        try:
            task_id = parse_id(request.id)
            try:
                await self._service.cancel_task(task_id)
            except TaskNotFoundError:
                if self._inspector is None:
                    raise
                # A durable TaskManager has asked the store already (docs/cluster.md#cancellation);
                # a stored id that reaches this is answered OK, unknown ones NOT_FOUND.
                await self._inspector.get(task_id)
        except Exception as exc:
            await _abort(context, exc, "cancel task")
        return worker_pb2.CancelTaskResponse()

    async def GetTask(  # noqa: N802
        self, request: worker_pb2.GetTaskRequest, context: Context
    ) -> worker_pb2.GetTaskResponse:
        await self._authorize(context, "GetTask", request)
        try:
            task_id = parse_id(request.id)
            return await self._snapshot(task_id)
        except Exception as exc:
            await _abort(context, exc, "get task")

    async def _snapshot(self, task_id: uuid.UUID) -> worker_pb2.GetTaskResponse:
        """This node's task when it is over, else the outcome the store keeps for a durable
        task settled on any node (docs/cluster.md#results), else this node's live task, else
        the shared record of one still waiting. The store comes before a live local task: a
        durable task's outcome is stored by its ack, a moment before the node that acked it
        marks it finished.
        """
        local: Task | None = None
        with contextlib.suppress(TaskNotFoundError):
            local = self._service.get_task(task_id)
        if local is not None and local.status.is_terminal:
            return task_message(local)
        try:
            return task_message((await self._service.get_result(task_id)).task)
        except TaskNotFoundError:
            if local is not None:
                return task_message(local)
            if self._inspector is None:
                raise
        return record_message(await self._inspector.get(task_id))
