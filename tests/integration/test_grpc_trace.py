"""A gRPC call's W3C trace context (docs/observability.md, docs/grpc.md): ``traceparent`` and
``tracestate`` in the invocation metadata of RegisterTasks / RegisterDurableTasks become the
parent of each task's ``worker.task`` span, unless the task carries its own ``traceparent``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.otel import OtelTracer
from pyworker.application import DurableHandlerSpec, TaskManager
from pyworker.protos.worker.v1 import worker_pb2
from tests.support.grpc_server import Gates, Served, durable_email, email, handlers_for, serving
from tests.support.waits import within

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"
CALL_METADATA = (("traceparent", TRACEPARENT), ("tracestate", "vendor=client"))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(spans: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider
    provider.shutdown()


@pytest.fixture
async def manager(provider: TracerProvider) -> AsyncIterator[TaskManager]:
    async with TaskManager(max_workers=2, tasks_per_second=0, tracer=OtelTracer(provider)) as tm:
        yield tm


@pytest.fixture
async def served(manager: TaskManager) -> AsyncIterator[Served]:
    async with serving(manager, handlers_for(Gates())) as s:
        yield s


def task_span(spans: InMemorySpanExporter, task_id: str) -> ReadableSpan:
    (span,) = [s for s in spans.get_finished_spans() if s.name == "worker.task" and s.attributes
               and s.attributes.get("task.id") == task_id]  # fmt: skip
    return span



async def test_the_calls_trace_context_parents_the_tasks_span(
    served: Served, manager: TaskManager, spans: InMemorySpanExporter
) -> None:
    request = worker_pb2.RegisterTasksRequest(tasks=[email(), email(metadata={"tenant": "t1"})])
    response = await within(served.stub.RegisterTasks(request, metadata=CALL_METADATA))
    await within(manager.wait())
    for task_id in response.ids:
        span = task_span(spans, task_id)
        assert span.context is not None
        assert span.context.trace_id == TRACE_ID
        assert span.parent is not None
        assert span.parent.span_id == SPAN_ID
        assert span.parent.is_remote
        assert dict(span.parent.trace_state) == {"vendor": "client"}
        assert manager.get_task(task_id).metadata["traceparent"] == TRACEPARENT
    assert manager.get_task(response.ids[1]).metadata["tenant"] == "t1"


async def test_a_tasks_own_traceparent_wins(served: Served, manager: TaskManager, spans: InMemorySpanExporter) -> None:
    own = f"00-{0xABC:032x}-{0xDEF:016x}-01"
    request = worker_pb2.RegisterTasksRequest(tasks=[email(metadata={"traceparent": own})])
    (task_id,) = (await within(served.stub.RegisterTasks(request, metadata=CALL_METADATA))).ids
    await within(manager.wait())
    span = task_span(spans, task_id)
    assert span.context is not None
    assert span.context.trace_id == 0xABC
    assert span.parent is not None
    assert span.parent.span_id == 0xDEF
    assert "tracestate" not in manager.get_task(task_id).metadata


async def test_without_trace_metadata_the_task_starts_its_own_trace(
    served: Served, manager: TaskManager, spans: InMemorySpanExporter
) -> None:
    request = worker_pb2.RegisterTasksRequest(tasks=[email()])
    (task_id,) = (await within(served.stub.RegisterTasks(request, metadata=(("tracestate", "vendor=x"),)))).ids
    await within(manager.wait())
    assert task_span(spans, task_id).parent is None
    assert "traceparent" not in manager.get_task(task_id).metadata


async def test_a_durable_task_continues_the_calls_trace(provider: TracerProvider, spans: InMemorySpanExporter) -> None:
    backend = InMemoryDurableBackend()
    registry = handlers_for(Gates())
    specs = {name: DurableHandlerSpec(make=s.make, fn=s.fn) for name, s in registry.handlers().items()}
    async with (
        TaskManager(durable_backend=backend, durable_handlers=specs, tracer=OtelTracer(provider)) as tm,
        serving(tm, registry) as served,
    ):
        results = tm.subscribe_results()
        request = worker_pb2.RegisterDurableTasksRequest(tasks=[durable_email()])
        (task_id,) = (await within(served.stub.RegisterDurableTasks(request, metadata=CALL_METADATA))).ids
        result = await within(results.__anext__())
        assert str(result.task.id) == task_id
    await backend.close()
    span = task_span(spans, task_id)
    assert span.context is not None
    assert span.context.trace_id == TRACE_ID
    assert span.parent is not None
    assert span.parent.span_id == SPAN_ID
