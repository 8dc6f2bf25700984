"""Durable acks while the backend is away (docs/durable.md): retried while the lease lasts, given up after."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.domain import (
    BackendUnavailableError,
    DurableLease,
    DurableState,
    DurableTask,
    TaskNotFoundError,
    TaskStatus,
)
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload
from tests.support.waits import next_result, settle, until, within
from tests.unit.durable.durable_support import MakeDurable, Probe, RecordingBackend, registry_for

POLL = 1.0  # the manager's poll interval: also its wait before retrying an ack


class AwayForAcks(RecordingBackend):
    """The in-memory backend, unreachable for the first ``outages`` ack_many calls."""

    def __init__(self, inner: InMemoryDurableBackend, outages: int) -> None:
        super().__init__(inner)
        self.outages = outages
        self.acks: list[list[int]] = []  # per call: the delivery (attempt) of each lease it acks

    @property
    def ack_calls(self) -> int:
        return len(self.acks)

    async def ack_many(
        self, leases: Sequence[DurableLease], outputs: Sequence[str] | None = None
    ) -> Sequence[BaseException | None]:
        self.acks.append([lease.attempts for lease in leases])
        if self.ack_calls <= self.outages:
            raise BackendUnavailableError(reason="connection refused")
        return await self.inner.ack_many(leases, outputs)




def task() -> DurableTask:
    return DurableTask(handler="send_email", message=SendEmailPayload(to="ada"), id=uuid.uuid4())


async def test_an_ack_refused_by_an_unavailable_backend_is_retried_and_the_task_runs_once(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock
) -> None:
    away = AwayForAcks(backend, outages=1)
    probe = Probe()
    tm = make_durable(
        durable_backend=away, durable_handlers=registry_for(probe), durable_poll_interval=POLL, durable_lease=30
    )
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(task())
    await until(lambda: away.ack_calls == 1)
    await settle()
    assert len(stream) == 0  # the ack has not landed: nothing published yet
    assert (await backend.get(task_id)).state is DurableState.PROCESSING

    clock.advance(POLL)  # the flusher's retry falls due
    result = await next_result(stream)
    assert (result.task.id, result.task.status, result.result) == (task_id, TaskStatus.COMPLETED, "done")
    assert away.ack_calls == 2
    with pytest.raises(TaskNotFoundError):
        await backend.get(task_id)  # acked: the backend forgot it

    clock.advance(120)  # far past the lease: an unacked task would be delivered again now
    await settle()
    await within(tm.wait())
    assert len(probe.calls) == 1
    assert stream.get_nowait() is None  # published once
    assert (await backend.stats()).total_ready == 0


async def test_an_ack_whose_lease_ends_before_the_retry_is_given_up_with_a_warning(
    make_durable: MakeDurable, backend: InMemoryDurableBackend, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    away = AwayForAcks(backend, outages=1)
    probe = Probe(block=True)
    tm = make_durable(
        durable_backend=away, durable_handlers=registry_for(probe), durable_poll_interval=POLL, durable_lease=10
    )
    await tm.start()
    stream = tm.subscribe_results()
    task_id = await tm.register_durable_task(task())
    await within(probe.started.wait())
    clock.advance(9.5)  # the handler ran long: half a second of lease left, less than the retry wait
    with caplog.at_level(logging.WARNING, logger="pyworker"):
        probe.release_all()
        first = await next_result(stream)
    # The work is done, so its result is reported, with a warning; the ack is not retried on a lease about to end.
    assert (first.task.id, first.task.status) == (task_id, TaskStatus.COMPLETED)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and str(task_id) in r.getMessage()]
    assert warnings, "no warning names the task whose ack was given up"
    assert "ack failed" in warnings[0].getMessage()
    assert (await backend.get(task_id)).state is DurableState.PROCESSING  # never acked, never failed

    clock.advance(POLL)  # a retry would be due now; the lease has ended instead
    again = await next_result(stream)  # at least once: the unacked task is delivered again
    assert (again.task.id, again.task.status) == (task_id, TaskStatus.COMPLETED)
    assert probe.attempts == [1, 2]
    assert away.acks == [[1], [2]]  # the first delivery's ack was tried once, then given up
    with pytest.raises(TaskNotFoundError):
        await backend.get(task_id)  # the second delivery's ack landed
