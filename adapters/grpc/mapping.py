"""Protobuf <-> domain for the WorkerService: the one place worker.v1 messages are read or built."""

from __future__ import annotations

import contextvars
import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from pyworker.adapters.grpc.status import RpcError
from pyworker.application import HandlerSpec
from pyworker.application.attempt import is_async_function
from pyworker.domain import DurableState, DurableTask, DurableTaskRecord, Result, Task, TaskContext, TaskStatus
from pyworker.domain.task import EMPTY_METADATA
from pyworker.protos.worker.v1 import worker_pb2

#: Metadata keys that set the task's queue and weight (go-worker's MetadataQueueKey / MetadataWeightKey).
METADATA_QUEUE_KEY = "queue"
METADATA_WEIGHT_KEY = "weight"
#: The W3C trace-context headers a call's metadata may carry: they become the parent of the tasks it registers.
TRACE_CONTEXT_KEYS = ("traceparent", "tracestate")
_MAX_WEIGHT = 2**31 - 1

#: A durable record's state, as the wire status GetTask reports.
_DURABLE_STATUS: Mapping[DurableState, TaskStatus] = {
    DurableState.READY: TaskStatus.QUEUED,
    DurableState.DELAYED: TaskStatus.QUEUED,
    DurableState.PROCESSING: TaskStatus.RUNNING,
    DurableState.DEAD: TaskStatus.FAILED,
    DurableState.UNKNOWN: TaskStatus.UNKNOWN,
}


def signature(message: Message) -> bytes:
    """SHA-256 of the deterministic serialisation of the whole request task.

    Raises:
        RpcError: INVALID_ARGUMENT when the message cannot be serialised.
    """
    try:
        data = message.SerializeToString(deterministic=True)
    except Exception as exc:  # EncodeError and friends: the message is the client's
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"idempotency signature: {exc}") from exc
    return hashlib.sha256(data).digest()


def parse_id(text: str) -> uuid.UUID:
    """A task id from the wire. Raises RpcError (INVALID_ARGUMENT) when it is not a UUID."""
    try:
        return uuid.UUID(text.strip())
    except ValueError as exc:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"parse id: invalid UUID {text[:64]!r}") from exc


def lookup(handlers: Mapping[str, HandlerSpec], name: str) -> HandlerSpec:
    """The handler named by a request. Raises RpcError (NOT_FOUND)."""
    spec = handlers.get(name)
    if spec is None:
        raise RpcError(grpc.StatusCode.NOT_FOUND, f"no handler registered for {name[:200]!r}".replace("'", '"'))
    return spec


def unpack(spec: HandlerSpec, name: str, payload: any_pb2.Any) -> Any:
    """Unpack an Any into the handler's message type. Raises RpcError (INVALID_ARGUMENT)."""
    message = spec.make()
    try:
        matched = payload.Unpack(message)
    except DecodeError as exc:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f'bad payload for "{name}": {exc}') from exc
    if not matched:
        want = message.DESCRIPTOR.full_name
        got = payload.TypeName() or payload.type_url
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f'bad payload for "{name}": mismatched message type: got "{got[:200]}", want "{want}"',
        )
    return message


def queue_and_weight(metadata: Mapping[str, str]) -> tuple[str, int]:
    """The queue and weight the metadata asks for ("" and 0: the manager's defaults).

    Raises:
        RpcError: INVALID_ARGUMENT when ``weight`` is not an integer > 0.
    """
    queue = metadata.get(METADATA_QUEUE_KEY, "").strip()
    raw = metadata.get(METADATA_WEIGHT_KEY, "").strip()
    if not raw:
        return queue, 0
    try:
        weight = int(raw, 10)
    except ValueError:
        weight = 0
    if not 0 < weight <= _MAX_WEIGHT:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f'invalid queue weight "{raw[:64]}"')
    return queue, weight


def _retry_delay(message: worker_pb2.Task | worker_pb2.DurableTask) -> float:
    if not message.HasField("retry_delay"):
        return 0.0
    try:
        seconds = message.retry_delay.ToTimedelta().total_seconds()
    except (ValueError, OverflowError) as exc:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid retry_delay: {exc}") from exc
    if seconds < 0:
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid retry_delay {seconds}s: must not be negative")
    return seconds


def trace_headers(invocation_metadata: Any) -> Mapping[str, str]:
    """The W3C trace context (``traceparent``, and ``tracestate`` with it) of a call's
    invocation metadata; empty without a ``traceparent``."""
    found: dict[str, str] = {}
    for key, value in invocation_metadata or ():
        if key in TRACE_CONTEXT_KEYS and isinstance(value, str) and key not in found:
            found[key] = value
    return found if "traceparent" in found else EMPTY_METADATA


def with_trace(metadata: Mapping[str, str], trace: Mapping[str, str]) -> Mapping[str, str]:
    """The task's metadata with the call's trace context, unless the task carries its own ``traceparent``."""
    if not trace or "traceparent" in metadata:
        return metadata
    merged = {key: value for key, value in metadata.items() if key not in TRACE_CONTEXT_KEYS}
    merged.update(trace)
    return merged


@attrs.frozen
class RequestInfo:
    """What the gRPC request said about the task a handler is running."""

    correlation_id: str = ""
    metadata: Mapping[str, str] = EMPTY_METADATA


_NO_REQUEST = RequestInfo()
_CURRENT: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("pyworker_grpc_request", default=None)


def current_request() -> RequestInfo:
    """Inside a gRPC handler: the correlation id and metadata of the request that registered the task
    (empty outside one)."""
    return _CURRENT.get() or _NO_REQUEST


class _SyncCall:
    """``fn(ctx, payload)`` as a task function; a class, so the async check is memoised per class."""

    __slots__ = ("fn", "info", "payload")

    def __init__(self, fn: Callable[[TaskContext, Any], Any], payload: Any, info: RequestInfo) -> None:
        self.fn = fn
        self.payload = payload
        self.info = info

    def __call__(self, ctx: TaskContext) -> Any:
        token = _CURRENT.set(self.info)
        try:
            return self.fn(ctx, self.payload)
        finally:
            _CURRENT.reset(token)


class _AsyncCall(_SyncCall):
    """The coroutine-function twin of _SyncCall: it runs on the loop, not in the thread pool."""

    __slots__ = ()

    async def __call__(self, ctx: TaskContext) -> Any:
        token = _CURRENT.set(self.info)
        try:
            return await self.fn(ctx, self.payload)
        finally:
            _CURRENT.reset(token)


def _bind(fn: Callable[[TaskContext, Any], Any], payload: Any, info: RequestInfo) -> Callable[[TaskContext], Any]:
    return _AsyncCall(fn, payload, info) if is_async_function(fn) else _SyncCall(fn, payload, info)


def to_task(
    message: worker_pb2.Task, handlers: Mapping[str, HandlerSpec], trace: Mapping[str, str] = EMPTY_METADATA
) -> Task:
    """The in-memory Task a request asks for (its lifetime is not the RPC's); ``trace``
    (``trace_headers()`` of the call) becomes its parent unless it carries a ``traceparent``.

    Raises:
        RpcError: NOT_FOUND (unknown handler), INVALID_ARGUMENT (payload, weight, retry delay).
    """
    name = message.name
    spec = lookup(handlers, name)
    payload = unpack(spec, name, message.payload) if message.HasField("payload") else None
    metadata: Mapping[str, str] = dict(message.metadata) if message.metadata else EMPTY_METADATA
    queue, weight = queue_and_weight(metadata) if metadata else ("", 0)
    metadata = with_trace(metadata, trace)
    return Task(
        execute=_bind(spec.fn, payload, RequestInfo(message.correlation_id, metadata)),
        name=name,
        description=message.description,
        priority=message.priority,
        retries=max(message.retries, 0),
        retry_delay=_retry_delay(message),
        queue=queue,
        weight=weight,
        metadata=metadata,
        correlation_id=message.correlation_id,
    )


def to_durable_task(
    message: worker_pb2.DurableTask, handlers: Mapping[str, HandlerSpec], trace: Mapping[str, str] = EMPTY_METADATA
) -> DurableTask:
    """The DurableTask a request asks for (a fresh id; the payload is required); ``trace``
    as for ``to_task``.

    Raises:
        RpcError: NOT_FOUND, INVALID_ARGUMENT (missing or bad payload, weight, retry delay).
    """
    name = message.name
    spec = lookup(handlers, name)
    if not message.HasField("payload"):
        raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f'missing payload for "{name}"')
    payload = unpack(spec, name, message.payload)
    metadata = dict(message.metadata)
    queue, weight = queue_and_weight(metadata)
    metadata = dict(with_trace(metadata, trace))
    return DurableTask(
        handler=name,
        message=payload,
        id=uuid.uuid4(),
        priority=message.priority,
        retries=max(message.retries, 0),
        retry_delay=_retry_delay(message),
        queue=queue,
        weight=weight,
        metadata=metadata,
        idempotency_key=message.idempotency_key.strip(),
        name=name,
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def result_message(result: Result) -> worker_pb2.StreamResultsResponse:
    """One result on the wire: output is the result's string form, error the error's."""
    return worker_pb2.StreamResultsResponse(
        id=str(result.task.id), output=_text(result.result), error=_text(result.error)
    )


def task_message(task: Task) -> worker_pb2.GetTaskResponse:
    """A task snapshot; status is the wire name (``Completed``, ...)."""
    return worker_pb2.GetTaskResponse(
        id=str(task.id),
        name=task.name,
        status=task.status.wire_name,
        output=_text(task.result),
        error=_text(task.error),
    )


def record_message(record: DurableTaskRecord) -> worker_pb2.GetTaskResponse:
    """A durable record (read from the shared store) as a task snapshot."""
    return worker_pb2.GetTaskResponse(
        id=str(record.id),
        name=record.handler,
        # A task dead-lettered by a cancellation reads Cancelled, not Failed (docs/cluster.md#cancellation).
        status=(TaskStatus.CANCELLED if record.cancelled else _DURABLE_STATUS[record.state]).wire_name,
        error=record.last_error,
    )
