"""Durable execution (docs/durable.md#taskmanager-in-durable-mode, docs/task-manager.md#results,
docs/task-manager.md#hooks): handlers, ack/nack/fail, retries, DLQ, poison, hooks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import JsonDurableCodec
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import DurableHandlerSpec
from pyworker.domain import (
    DurableLease,
    DurableState,
    DurableTask,
    HandlerPayloadTypeMismatchError,
    TaskCancelledError,
    TaskContext,
    TaskNotFoundError,
    TaskStatus,
    TaskTimeoutError,
    retry_delay,
)
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, settle, until, within
from tests.unit.durable.durable_support import (
    BoomError,
    HookLog,
    MakeDurable,
    Probe,
    RecordingBackend,
    email,
    registry_for,
)


def in_state(
    backend: InMemoryDurableBackend, task_id: uuid.UUID, state: DurableState, attempts: int = 1
) -> Callable[[], Any]:
    async def check() -> bool:
        record = await backend.get(task_id)
        return record.state is state and record.attempts == attempts

    return check


async def advance_to_ready(
    backend: InMemoryDurableBackend, clock: ManualClock, task_id: uuid.UUID, attempts: int = 1
) -> None:
    """Wait until delivery ``attempts`` was nacked with a delay, then move the clock to its ready time."""
    await until(in_state(backend, task_id, DurableState.DELAYED, attempts))
    record = await backend.get(task_id)
    assert record.ready_at is not None
    clock.advance(record.ready_at - clock.now() + 0.001)  # + 1 ms: the backend compares whole ms


async def test_handler_gets_the_decoded_proto_message_and_the_result_is_published(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(result="sent")
    tm = make_durable(durable_handlers=registry_for(probe))
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email("bob@example.com")))
    result = await next_result(stream)
    assert (result.task.id, result.task.status, result.result, result.error) == (
        task_id,
        TaskStatus.COMPLETED,
        "sent",
        None,
    )
    ((ctx, message),) = probe.calls
    assert isinstance(message, SendEmailPayload)
    assert (message.to, message.subject, message.body) == ("bob@example.com", "hi", "hello")
    assert (ctx.task_id, ctx.attempt, ctx.name) == (task_id, 1, "send_email")
    with pytest.raises(TaskNotFoundError):
        await backend.get(task_id)  # acked: forgotten by the backend
    assert tm.get_task(task_id).status is TaskStatus.COMPLETED


async def test_json_codec_dict_handler_and_plain_function(make_durable: MakeDurable) -> None:
    seen: list[Any] = []

    def resize(ctx: TaskContext, message: dict[str, int]) -> int:  # plain def: runs in the thread pool
        seen.append(message)
        return message["w"] * message["h"]

    tm = make_durable(
        durable_handlers={"resize": DurableHandlerSpec(make=dict, fn=resize)}, durable_codec=JsonDurableCodec()
    )
    await tm.start()
    stream = tm.subscribe_results()
    await tm.register_durable_task(DurableTask(handler="resize", message={"w": 4, "h": 8}))
    result = await next_result(stream)
    assert (result.task.status, result.result) == (TaskStatus.COMPLETED, 32)
    assert seen == [{"w": 4, "h": 8}]


async def test_ack_happens_before_the_result_is_published(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    """While the ack is on the wire, no subscriber has the result yet; it arrives once the ack returns."""
    acking = asyncio.Event()
    ack_returns = asyncio.Event()

    class HeldAck(RecordingBackend):
        async def ack_many(
            self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
        ) -> Sequence[BaseException | None]:
            acking.set()
            await ack_returns.wait()
            return await self.inner.ack_many(leases, outputs)

    tm = make_durable(durable_backend=HeldAck(backend), durable_handlers=registry_for(Probe()))
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    await within(acking.wait())
    await settle()
    assert len(stream) == 0  # not published while the ack is in flight
    assert await backend.get(task_id)  # still leased: the ack has not landed
    ack_returns.set()
    result = await next_result(stream)
    assert (result.task.id, result.task.status) == (task_id, TaskStatus.COMPLETED)
    with pytest.raises(TaskNotFoundError):
        await backend.get(task_id)  # acked


async def test_typed_registry_refuses_a_payload_of_another_type(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    class TextCodec:
        """Decodes every payload to text, whatever the handler expects."""

        def encode(self, message: Any) -> bytes:
            return str(message).encode()

        def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
            return data.decode()

    probe = Probe()
    tm = make_durable(durable_handlers=registry_for(probe), durable_codec=TextCodec())
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", payload=b"hello", retries=0))
    result = await next_result(stream)
    assert result.task.status is TaskStatus.FAILED
    assert isinstance(result.error, HandlerPayloadTypeMismatchError)
    assert probe.calls == []
    (dead,) = (await backend.list_tasks(DurableState.DEAD)).records
    assert dead.id == task_id
    assert "handler payload type mismatch: expected SendEmailPayload, got str" in dead.last_error


async def test_failure_with_retries_left_is_nacked_with_the_backoff_and_redelivered(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(fail_first=1, result="second time lucky")
    log = HookLog()
    tm = make_durable(durable_handlers=registry_for(probe), hooks=log.hooks(), retry_delay=2.0)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=2))
    await until(in_state(backend, task_id, DurableState.DELAYED))
    expected = retry_delay(2.0, 1, task_id)
    assert log.calls[1] == ("retry", task_id, expected, 1)
    record = await backend.get(task_id)
    assert record.ready_at == pytest.approx(clock.now() + expected, abs=0.001)
    assert record.attempts == 1
    assert stream.get_nowait() is None  # a retried attempt publishes nothing
    assert "finish" not in log.kinds()
    clock.advance(expected - 0.01)
    await settle()
    assert probe.attempts == [1]  # not before the backoff
    clock.advance(0.011)
    result = await next_result(stream)
    assert (result.task.id, result.task.status, result.result) == (task_id, TaskStatus.COMPLETED, "second time lucky")
    assert probe.attempts == [1, 2]  # ctx.attempt counts deliveries
    assert stream.get_nowait() is None


async def test_final_failure_goes_to_the_dlq_with_the_error(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(fail_first=10)
    log = HookLog()
    tm = make_durable(durable_handlers=registry_for(probe), hooks=log.hooks(), retry_delay=0.5)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=2))
    for attempts in (1, 2):
        await advance_to_ready(backend, clock, task_id, attempts)
    result = await next_result(stream)
    assert result.task.status is TaskStatus.FAILED
    assert isinstance(result.error, BoomError)
    assert str(result.error) == "boom 3"
    assert probe.attempts == [1, 2, 3]  # retries + 1 runs
    retries = [call for call in log.calls if call[0] == "retry"]
    assert retries == [
        ("retry", task_id, retry_delay(0.5, 1, task_id), 1),
        ("retry", task_id, retry_delay(0.5, 2, task_id), 2),
    ]
    (dead,) = (await backend.list_tasks(DurableState.DEAD)).records
    assert (dead.id, dead.last_error, dead.attempts, dead.state) == (task_id, "boom 3", 3, DurableState.DEAD)
    assert stream.get_nowait() is None  # one result for the task
    metrics = tm.get_metrics()
    assert (metrics.failed, metrics.retried, metrics.scheduled) == (1, 2, 0)


async def test_retries_are_capped_by_the_manager(make_durable: MakeDurable, backend: InMemoryDurableBackend) -> None:
    probe = Probe(fail_first=10)
    tm = make_durable(durable_handlers=registry_for(probe), max_retries=0)
    await tm.start()
    stream = tm.subscribe_results()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=5))
    assert (await next_result(stream)).task.status is TaskStatus.FAILED
    assert probe.attempts == [1]
    assert (await backend.stats()).dead == 1


async def test_timeout_ends_as_context_deadline_reached_after_the_retries(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe(block=True)
    tm = make_durable(durable_handlers=registry_for(probe), timeout=5, retry_delay=1)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=1))
    await within(probe.started.wait())
    clock.advance(5)

    async def settled() -> bool:
        return (await backend.get(task_id)).state is not DurableState.PROCESSING

    await until(settled)
    record = await backend.get(task_id)
    # The timed-out attempt is retried, not dead-lettered as cancelled.
    assert (record.state, record.last_error) == (DurableState.DELAYED, "")
    await advance_to_ready(backend, clock, task_id)
    await until(lambda: len(probe.calls) == 2)
    assert stream.get_nowait() is None
    clock.advance(5)
    result = await next_result(stream)
    assert result.task.status is TaskStatus.CONTEXT_DEADLINE_REACHED
    assert isinstance(result.error, TaskTimeoutError)
    assert probe.attempts == [1, 2]
    assert probe.cancelled == 2
    (dead,) = (await backend.list_tasks(DurableState.DEAD)).records
    assert dead.id == task_id
    assert "deadline" in dead.last_error


async def test_cancel_task_of_a_running_durable_task_dead_letters_it(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe(block=True)
    log = HookLog()
    tm = make_durable(durable_handlers=registry_for(probe), hooks=log.hooks())
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=3))
    await within(probe.started.wait())
    assert tm.get_task(task_id).status is TaskStatus.RUNNING
    await tm.cancel_task(task_id, reason="not needed")
    result = await next_result(stream)
    assert result.task.status is TaskStatus.CANCELLED
    assert isinstance(result.error, TaskCancelledError)
    (dead,) = (await backend.list_tasks(DurableState.DEAD)).records
    assert (dead.id, dead.last_error, dead.cancelled) == (task_id, "task cancelled: not needed", True)
    assert "retry" not in log.kinds()  # cancelled is not retried
    assert probe.attempts == [1]


async def test_poison_messages_are_dead_lettered_and_the_worker_keeps_going(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    recording = RecordingBackend(backend)
    probe = Probe()
    tm = make_durable(durable_backend=recording, durable_handlers=registry_for(probe))
    unknown, garbled, empty, good = (uuid.uuid4() for _ in range(4))
    # Enqueued behind the manager's back, as another app (or a bad deploy) would.
    await backend.enqueue(DurableTask(handler="ghost", payload=b"x", id=unknown))
    await backend.enqueue(DurableTask(handler="send_email", payload=b"\xff\xff\xff", id=garbled))
    await backend.enqueue(DurableTask(handler="send_email", payload=b"", id=empty))
    recording.strip_payload.add(empty)
    await backend.enqueue(DurableTask(handler="send_email", payload=email().SerializeToString(), id=good))
    stream = tm.subscribe_results()
    await tm.start()
    result = await next_result(stream)
    assert (result.task.id, result.task.status) == (good, TaskStatus.COMPLETED)
    dead = {record.id: record.last_error for record in (await backend.list_tasks(DurableState.DEAD)).records}
    assert set(dead) == {unknown, garbled, empty}
    assert "durable handler not registered" in dead[unknown]
    assert "ghost" in dead[unknown]
    assert dead[garbled].startswith("unmarshal durable payload")
    assert "payload" in dead[empty]
    assert "missing" in dead[empty]
    assert len(probe.calls) == 1
    assert stream.get_nowait() is None  # poison messages publish no result
    await within(tm.wait())


async def test_hooks_start_retry_finish_but_not_queued(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    log = HookLog()
    tm = make_durable(durable_handlers=registry_for(Probe(fail_first=1)), hooks=log.hooks(), retry_delay=1)
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=1))
    await advance_to_ready(backend, clock, task_id)
    await next_result(stream)
    assert log.calls == [
        ("start", task_id, 1),
        ("retry", task_id, retry_delay(1.0, 1, task_id), 1),
        ("start", task_id, 2),
        ("finish", task_id, TaskStatus.COMPLETED, "done"),
    ]


async def test_a_failing_hook_does_not_stop_the_task(make_durable: MakeDurable) -> None:
    from pyworker.application import TaskHooks

    def explode(*args: Any) -> None:
        raise RuntimeError("hook failure")

    tm = make_durable(durable_handlers=registry_for(Probe()), hooks=TaskHooks(on_start=explode, on_finish=explode))
    await tm.start()
    stream = tm.subscribe_results()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    assert (await next_result(stream)).task.status is TaskStatus.COMPLETED
