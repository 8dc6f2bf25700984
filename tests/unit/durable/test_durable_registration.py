"""Durable registration (docs/durable.md#taskmanager-in-durable-mode, docs/differences.md): validation order,
normalisation, batches, delays, refusals."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.codec import JsonDurableCodec, ProtoDurableCodec
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application import DurableHandlerSpec, TaskManager, TypedDurableRegistry
from pyworker.domain import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    DurableHandlerNotRegisteredError,
    DurableModeError,
    DurablePayloadError,
    DurableState,
    DurableTask,
    DurableTaskExistsError,
    InvalidTaskError,
    Task,
    TaskStatus,
)
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, settle, within
from tests.unit.durable.durable_support import MakeDurable, Probe, email, registry_for


async def stored_count(backend: InMemoryDurableBackend) -> int:
    stats = await backend.stats()
    return stats.total_ready + stats.total_delayed + stats.total_processing + stats.dead


async def test_without_a_backend_durable_registration_is_refused() -> None:
    tm = TaskManager(max_workers=1, tasks_per_second=0)
    try:
        task = DurableTask(handler="send_email", message=email())
        with pytest.raises(DurableModeError, match=r"^durable backend not configured$"):
            await tm.register_durable_task(task)
        with pytest.raises(DurableModeError, match=r"^durable backend not configured$"):
            await tm.register_durable_tasks([task])
        with pytest.raises(DurableModeError, match=r"^durable backend not configured$"):
            await tm.register_durable_task_at(task, 0)
        with pytest.raises(DurableModeError, match=r"^durable backend not configured$"):
            await tm.register_durable_task_after(task, 1)
    finally:
        await within(tm.stop_now())


async def test_validation_order_handler_then_registration_then_payload(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    # Blank handler and no payload: the handler is reported first.
    with pytest.raises(InvalidTaskError, match="durable task handler is required"):
        await tm.register_durable_task(DurableTask(handler="  "))
    # Unknown handler and no payload: the unknown handler is reported first.
    with pytest.raises(DurableHandlerNotRegisteredError, match="ghost") as unknown:
        await tm.register_durable_task(DurableTask(handler="ghost"))
    assert unknown.value.handler == "ghost"
    with pytest.raises(DurablePayloadError, match="durable task payload or message is required"):
        await tm.register_durable_task(DurableTask(handler="send_email"))
    assert await stored_count(backend) == 0


async def test_message_is_encoded_with_the_codec_and_handler_name_trimmed(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    task_id = await tm.register_durable_task(DurableTask(handler=" send_email ", message=email("bob@example.com")))
    record = await backend.get(task_id)
    assert record.payload == ProtoDurableCodec().encode(email("bob@example.com"))
    assert SendEmailPayload.FromString(record.payload).to == "bob@example.com"
    assert record.handler == "send_email"
    assert record.state is DurableState.READY


async def test_json_codec_encodes_messages_as_json(make_durable: MakeDurable, backend: InMemoryDurableBackend) -> None:
    registry = TypedDurableRegistry()
    registry.add_typed("resize", dict, Probe().run)
    tm = make_durable(durable_handlers=registry, durable_codec=JsonDurableCodec())
    task_id = await tm.register_durable_task(DurableTask(handler="resize", message={"w": 64, "h": 32}))
    assert (await backend.get(task_id)).payload == b'{"h":32,"w":64}'


async def test_payload_is_validated_by_decoding(make_durable: MakeDurable, backend: InMemoryDurableBackend) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    with pytest.raises(DurablePayloadError, match="durable payload validation"):
        await tm.register_durable_task(DurableTask(handler="send_email", payload=b"\xff\xff\xff"))
    assert await stored_count(backend) == 0
    good = email().SerializeToString()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", payload=good))
    assert (await backend.get(task_id)).payload == good


async def test_json_payload_is_validated_by_decoding(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    registry = TypedDurableRegistry()
    registry.add_typed("resize", dict, Probe().run)
    tm = make_durable(durable_handlers=registry, durable_codec=JsonDurableCodec())
    for bad in (b"not json", b"[1, 2]"):
        with pytest.raises(DurablePayloadError, match="durable payload validation"):
            await tm.register_durable_task(DurableTask(handler="resize", payload=bad))
    assert await stored_count(backend) == 0


async def test_payload_and_message_both_given_stores_the_payload_as_is(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    raw = email("raw@example.com").SerializeToString()
    task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email("msg"), payload=raw))
    assert (await backend.get(task_id)).payload == raw


async def test_defaults_and_clamps(make_durable: MakeDurable, backend: InMemoryDurableBackend) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()), max_retries=2, retry_delay=2.5, default_queue="mail")
    first = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), retries=10, weight=0))
    second = await tm.register_durable_task(
        DurableTask(handler="send_email", message=email(), retries=-4, weight=-3, queue="  ", retry_delay=0.5)
    )
    one, two = await backend.get(first), await backend.get(second)
    assert (one.retries, two.retries) == (2, 0)
    assert (one.retry_delay, two.retry_delay) == (2.5, 0.5)
    assert (one.queue, two.queue) == ("mail", "mail")
    assert (one.weight, two.weight) == (1, 1)
    explicit = await tm.register_durable_task(
        DurableTask(handler="send_email", message=email(), retries=1, weight=7, queue=" reports ")
    )
    record = await backend.get(explicit)
    assert (record.retries, record.weight, record.queue) == (1, 7, "reports")


async def test_id_is_generated_when_missing_and_kept_when_given(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    generated = await tm.register_durable_task(DurableTask(handler="send_email", message=email()))
    assert isinstance(generated, uuid.UUID)
    assert (await backend.get(generated)).id == generated
    chosen = uuid.uuid4()
    assert await tm.register_durable_task(DurableTask(handler="send_email", message=email(), id=chosen)) == chosen


@pytest.mark.parametrize("priority", [MIN_PRIORITY - 1, MAX_PRIORITY + 1])
async def test_priority_outside_int32_is_invalid(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, priority: int
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    with pytest.raises(InvalidTaskError, match="32-bit"):
        await tm.register_durable_task(DurableTask(handler="send_email", message=email(), priority=priority))
    assert await stored_count(backend) == 0
    for edge in (MIN_PRIORITY, MAX_PRIORITY):
        task_id = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), priority=edge))
        assert (await backend.get(task_id)).priority == edge


async def test_existing_id_is_refused(make_durable: MakeDurable, backend: InMemoryDurableBackend) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    task_id = uuid.uuid4()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email("first"), id=task_id))
    with pytest.raises(DurableTaskExistsError) as exists:
        await tm.register_durable_task(DurableTask(handler="send_email", message=email("second"), id=task_id))
    assert exists.value.task_id == task_id
    assert SendEmailPayload.FromString((await backend.get(task_id)).payload).to == "first"


async def test_idempotency_key_returns_the_existing_id(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    first = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), idempotency_key="k1"))
    again = await tm.register_durable_task(
        DurableTask(handler="send_email", message=email("other"), idempotency_key="k1")
    )
    other = await tm.register_durable_task(DurableTask(handler="send_email", message=email(), idempotency_key="k2"))
    assert again == first
    assert other != first
    assert (await backend.stats()).total_ready == 2


async def test_register_durable_tasks_returns_ids_in_order(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    tasks = [DurableTask(handler="send_email", message=email(f"{n}@example.com"), id=uuid.uuid4()) for n in range(5)]
    ids = await tm.register_durable_tasks(tasks)
    assert ids == [task.id for task in tasks]
    assert [record.id for record in (await backend.list_tasks(DurableState.READY)).records] == ids  # FIFO


async def test_register_durable_tasks_reports_each_failure_and_keeps_the_valid_ones(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    good_one, good_two, taken = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await tm.register_durable_task(DurableTask(handler="send_email", message=email(), id=taken))
    with pytest.raises(ExceptionGroup) as group:
        await tm.register_durable_tasks(
            [
                DurableTask(handler="send_email", message=email(), id=good_one),
                DurableTask(handler="ghost", message=email()),
                DurableTask(handler="send_email"),
                DurableTask(handler="send_email", message=email(), id=good_two),
                DurableTask(handler="send_email", message=email(), id=taken),
            ]
        )
    kinds = [type(exc) for exc in group.value.exceptions]
    assert kinds == [DurableHandlerNotRegisteredError, DurablePayloadError, DurableTaskExistsError]
    ready = (await backend.list_tasks(DurableState.READY)).records
    assert {record.id for record in ready} == {taken, good_one, good_two}


async def test_register_durable_task_after_waits_for_the_delay(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe()
    tm = make_durable(durable_handlers=registry_for(probe))
    await tm.start()
    stream = tm.subscribe_results()
    start = clock.now()
    task_id = await tm.register_durable_task_after(DurableTask(handler="send_email", message=email()), 5)
    record = await backend.get(task_id)
    assert record.state is DurableState.DELAYED
    assert record.ready_at == pytest.approx(start + 5)
    clock.advance(4.9)
    await settle()
    assert probe.calls == []
    clock.advance(0.1)
    result = await next_result(stream)
    assert (result.task.id, result.task.status) == (task_id, TaskStatus.COMPLETED)
    assert len(probe.calls) == 1


async def test_register_durable_task_after_non_positive_delay_is_immediate(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    tm = make_durable(durable_handlers=registry_for(Probe()))
    for delay in (0, -3):
        task_id = await tm.register_durable_task_after(DurableTask(handler="send_email", message=email()), delay)
        assert (await backend.get(task_id)).state is DurableState.READY


async def test_register_durable_task_at_epoch_and_datetime(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    probe = Probe()
    tm = make_durable(durable_handlers=registry_for(probe))
    await tm.start()
    stream = tm.subscribe_results()
    by_epoch = await tm.register_durable_task_at(
        DurableTask(handler="send_email", message=email("epoch")), clock.now() + 3
    )
    when = dt.datetime.fromtimestamp(clock.now() + 6, tz=dt.UTC)
    by_datetime = await tm.register_durable_task_at(DurableTask(handler="send_email", message=email("dt")), when)
    await settle()
    assert probe.calls == []
    clock.advance(3)
    assert (await next_result(stream)).task.id == by_epoch
    await settle()
    assert [message.to for message in probe.messages] == ["epoch"]
    clock.advance(3)
    assert (await next_result(stream)).task.id == by_datetime
    assert [message.to for message in probe.messages] == ["epoch", "dt"]


async def test_in_memory_registration_and_execute_are_refused_in_durable_mode(
    make_durable: MakeDurable, backend: InMemoryDurableBackend
) -> None:
    probe = Probe()
    tm = make_durable(durable_handlers={"send_email": DurableHandlerSpec(make=SendEmailPayload, fn=probe.run)})

    async def run(ctx: object) -> str:
        return "never"

    with pytest.raises(DurableModeError, match="durable backend enabled"):
        await tm.register_task(Task(execute=run))
    with pytest.raises(DurableModeError, match="durable backend enabled"):
        await tm.register_task_after(Task(execute=run), 1)
    with pytest.raises(ExceptionGroup) as group:
        await tm.register_tasks([Task(execute=run)])
    assert [type(exc) for exc in group.value.exceptions] == [DurableModeError]
    with pytest.raises(DurableModeError):
        await within(tm.execute_task(uuid.uuid4()))
    assert tm.get_tasks() == []
    assert await stored_count(backend) == 0
