"""OtelTracer (docs/observability.md, traces): one ``worker.task`` span per attempt on an
injected provider, its attributes, error status and exception event, the span current
while the function runs, and the registering caller's trace carried in the metadata."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.otel import OtelSpan, OtelTracer
from pyworker.application import TaskManager, Tracer
from pyworker.application.events import AttemptInfo
from pyworker.application.registry import DurableHandlerSpec
from pyworker.domain import DurableTask, Task, TaskAlreadyExistsError, TaskContext, TaskStatus
from tests.support.waits import until, within


class BoomError(Exception):
    pass


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def manager(clock: ManualClock) -> AsyncIterator[TaskManager]:
    tm = TaskManager(max_workers=1, tasks_per_second=0, clock=clock, retry_delay=1)
    yield tm
    await within(tm.stop_now())


def test_conforms_to_the_port(tracer_provider: TracerProvider) -> None:
    assert isinstance(OtelTracer(tracer_provider), Tracer)


async def test_one_span_per_attempt_with_attributes_and_error_status(
    manager: TaskManager, clock: ManualClock, tracer_provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    calls: list[int] = []

    async def flaky(ctx: TaskContext) -> str:
        calls.append(ctx.attempt)
        if len(calls) == 1:
            raise BoomError("first try")
        return "done"

    task = Task(execute=flaky, retries=1, name="flaky", queue="mail", priority=7, correlation_id="req-1")
    producer = trace.get_tracer("test", tracer_provider=tracer_provider)
    with producer.start_as_current_span("producer") as parent:
        await manager.register_task(task)
    await until(lambda: task.status is TaskStatus.WAITING_RETRY)
    clock.advance(2)
    await within(manager.wait())
    finished = [span for span in spans.get_finished_spans() if span.name == "worker.task"]
    assert len(finished) == 2
    first, second = finished
    assert dict(first.attributes or {}) == {
        "task.id": str(task.id),
        "task.name": "flaky",
        "task.priority": 7,
        "task.queue": "mail",
        "task.attempt": 1,
        "task.correlation_id": "req-1",
    }
    assert (second.attributes or {})["task.attempt"] == 2
    assert first.kind is SpanKind.CONSUMER
    assert first.status.status_code is StatusCode.ERROR
    assert "first try" in (first.status.description or "")
    assert [event.name for event in first.events] == ["exception"]
    assert str((first.events[0].attributes or {})["exception.type"]).endswith("BoomError")
    assert second.status.status_code is StatusCode.UNSET
    assert second.events == ()
    # The retries are one trace: both attempts are children of the registering span.
    trace_id = parent.get_span_context().trace_id
    assert {span.context.trace_id for span in finished} == {trace_id}
    assert {span.parent.span_id for span in finished if span.parent} == {parent.get_span_context().span_id}
    assert task.metadata["traceparent"].split("-")[1] == f"{trace_id:032x}"


async def test_the_span_is_current_while_the_function_runs(
    manager: TaskManager, tracer_provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    inner = trace.get_tracer("test", tracer_provider=tracer_provider)

    async def work(ctx: TaskContext) -> None:
        with inner.start_as_current_span("inside"):
            pass

    await manager.register_task(Task(execute=work))
    await within(manager.wait())
    by_name = {span.name: span for span in spans.get_finished_spans()}
    assert by_name["inside"].parent is not None
    assert by_name["inside"].parent.span_id == by_name["worker.task"].context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # detached after the attempt


async def test_without_a_current_span_nothing_is_added_to_the_metadata(
    manager: TaskManager, tracer_provider: TracerProvider
) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    task = Task(execute=_ok, metadata={"k": "v"})
    await manager.register_task(task)
    await within(manager.wait())
    assert dict(task.metadata) == {"k": "v"}


async def test_an_explicit_traceparent_is_the_parent(
    manager: TaskManager, tracer_provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await manager.register_task(Task(execute=_ok, metadata={"traceparent": traceparent}))
    await within(manager.wait())
    (span,) = spans.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"


async def test_set_tracer_none_disables(
    manager: TaskManager, tracer_provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    manager.set_tracer(None)
    await manager.register_task(Task(execute=_ok))
    await within(manager.wait())
    assert spans.get_finished_spans() == ()


async def test_a_durable_task_carries_the_producers_trace(
    clock: ManualClock, tracer_provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    backend = InMemoryDurableBackend(clock=clock)

    async def handle(ctx: TaskContext, message: object) -> str:
        return "handled"

    tm = TaskManager(
        clock=clock,
        tracer=OtelTracer(tracer_provider),
        durable_backend=backend,
        durable_handlers={"h": DurableHandlerSpec(make=dict, fn=handle)},
        durable_codec=JsonDurableCodec(),
    )
    producer = trace.get_tracer("test", tracer_provider=tracer_provider)
    try:
        with producer.start_as_current_span("enqueue") as parent:
            task_id = await tm.register_durable_task(DurableTask(handler="h", message={"n": 1}))
        record = await backend.get(task_id)
        assert record.metadata["traceparent"].split("-")[1] == f"{parent.get_span_context().trace_id:032x}"
        results = tm.subscribe_results()
        await tm.start()
        await within(results.__anext__())
    finally:
        await within(tm.stop_now())
        await backend.close()
    (span,) = [span for span in spans.get_finished_spans() if span.name == "worker.task"]
    assert span.context.trace_id == parent.get_span_context().trace_id


def test_trace_context_is_empty_without_a_span(tracer_provider: TracerProvider) -> None:
    assert OtelTracer(tracer_provider).trace_context() == {}


def test_start_and_end_without_a_manager(tracer_provider: TracerProvider, spans: InMemorySpanExporter) -> None:
    tracer = OtelTracer(tracer_provider, name="custom", version="9")
    span = tracer.start(AttemptInfo(task_id=uuid.uuid4(), name="n", queue="q", priority=1, weight=1, attempt=1))
    span.end(None)
    (finished,) = spans.get_finished_spans()
    assert finished.instrumentation_scope is not None
    assert (finished.instrumentation_scope.name, finished.instrumentation_scope.version) == ("custom", "9")


async def _ok(ctx: TaskContext) -> str:
    return "ok"


async def test_a_refused_task_keeps_its_metadata(manager: TaskManager, tracer_provider: TracerProvider) -> None:
    manager.set_tracer(OtelTracer(tracer_provider))
    first = Task(execute=_ok)
    await manager.register_task(first)
    duplicate = Task(execute=_ok, id=first.id, metadata={"k": "v"})
    producer = trace.get_tracer("test", tracer_provider=tracer_provider)
    with producer.start_as_current_span("producer"), pytest.raises(TaskAlreadyExistsError):
        await manager.register_task(duplicate)
    assert dict(duplicate.metadata) == {"k": "v"}
    await within(manager.wait())


class RaisingTracer:
    def start(self, attempt: AttemptInfo) -> OtelSpan:
        raise AssertionError("not reached in this test")

    def trace_context(self) -> dict[str, str]:
        raise RuntimeError("propagation broke")


async def test_a_raising_trace_context_never_fails_a_registration(
    manager: TaskManager, caplog: pytest.LogCaptureFixture
) -> None:
    manager.set_tracer(RaisingTracer())
    manager.set_max_workers(0)
    task = Task(execute=_ok)
    await manager.register_task(task)
    assert manager.get_task(task.id) is task
    assert "trace_context raised" in caplog.text
    manager.set_tracer(None)
