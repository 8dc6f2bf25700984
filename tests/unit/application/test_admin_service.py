"""AdminService over the in-memory backend: guardrails, the payload hash, best-effort auditing, env settings."""

from __future__ import annotations

import hashlib

import pytest

from pyworker.adapters.clock import ManualClock
from pyworker.adapters.memory import InMemoryDurableBackend
from pyworker.application.admin import AdminGuardrails, AdminService, RequestContext, payload_hash
from pyworker.application.admin.guardrails import RunRateLimiter
from pyworker.domain import BackendUnavailableError
from pyworker.domain.admin import AdminApprovalError, AdminLimitError, AuditEvent
from pyworker.entrypoints.admin_settings import guardrails_from_env
from pyworker.entrypoints.errors import CliError

#: go-worker's hash of an empty request (``{}``).
EMPTY_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_the_payload_hash_is_go_workers() -> None:
    assert payload_hash({}) == EMPTY_HASH
    assert payload_hash({"name": "", "paused": False, "limit": 0}) == EMPTY_HASH  # zero values left out
    expected = hashlib.sha256(b'{"name":"a\\u003cb\\u0026c","weight":2}').hexdigest()
    assert payload_hash({"name": "a<b&c", "weight": 2}) == expected


def test_approval_needs_the_token_when_required() -> None:
    open_policy = AdminGuardrails()
    open_policy.check_approval(RequestContext())
    strict = AdminGuardrails(require_approval=True, approval_token=" s3cret ")
    with pytest.raises(AdminApprovalError, match="required"):
        strict.check_approval(RequestContext(approval="  "))
    with pytest.raises(AdminApprovalError, match="invalid"):
        strict.check_approval(RequestContext(approval="s3cre"))
    strict.check_approval(RequestContext(approval="s3cret"))
    AdminGuardrails(require_approval=True).check_approval(RequestContext(approval="anything"))


def test_limits_at_or_below_zero_take_the_defaults() -> None:
    policy = AdminGuardrails(replay_limit_max=0, replay_ids_max=-1, schedule_run_max=0, schedule_run_window=0)
    assert (policy.replay_limit_max, policy.replay_ids_max, policy.schedule_run_max) == (1000, 1000, 30)
    assert policy.schedule_run_window == 60.0
    policy.check_replay_limit(1000)
    with pytest.raises(AdminLimitError):
        policy.check_replay_limit(1001)


def test_the_run_rate_window_slides() -> None:
    clock = ManualClock()
    limiter = RunRateLimiter(AdminGuardrails(schedule_run_max=2, schedule_run_window=10), clock)
    limiter.admit("a")
    clock.advance(5)
    limiter.admit("a")
    limiter.admit("b")  # per name
    with pytest.raises(AdminLimitError, match="rate limit"):
        limiter.admit("a")
    clock.advance(5)  # the first run leaves the window
    limiter.admit("a")


class BrokenAuditLog:
    async def record(self, event: AuditEvent) -> None:
        raise BackendUnavailableError(reason="audit store down")

    async def events(self, *, action: str = "", target: str = "", limit: int = 200) -> list[AuditEvent]:
        return []


async def test_an_audit_log_that_fails_does_not_fail_the_action() -> None:
    backend = InMemoryDurableBackend(clock=ManualClock())
    admin = AdminService(backend, backend.queue_weights(), BrokenAuditLog())
    assert await admin.pause_dequeue(RequestContext(actor="ops")) is True
    assert (await backend.stats()).paused is True


async def test_the_memory_backend_records_the_actor_or_unknown() -> None:
    clock = ManualClock()
    backend = InMemoryDurableBackend(clock=clock)
    admin = AdminService(backend, backend.queue_weights(), backend.audit_log(), clock=clock)
    await admin.update_queue_weight(RequestContext(actor=" ops ", request_id="r1"), " bulk ", 3)
    await admin.resume_dequeue(RequestContext())
    events = await admin.audit_events()
    assert [(e.actor, e.request_id, e.action, e.target, e.at) for e in events] == [
        ("unknown", "", "dequeue.resume", "*", clock.now()),
        ("ops", "r1", "queue.update_weight", "bulk", clock.now()),
    ]
    assert (await admin.get_queue("bulk")).weight == 3


def test_guardrails_come_from_pyworker_or_go_worker_variables() -> None:
    policy = guardrails_from_env({
        "PYWORKER_ADMIN_REPLAY_LIMIT_MAX": "50", "WORKER_ADMIN_REPLAY_LIMIT_MAX": "7",
        "WORKER_ADMIN_SCHEDULE_RUN_WINDOW": "2m", "WORKER_ADMIN_REQUIRE_APPROVAL": "yes",
        "WORKER_ADMIN_APPROVAL_TOKEN": "t",
    })  # fmt: skip
    assert (policy.replay_limit_max, policy.schedule_run_window, policy.require_approval) == (50, 120.0, True)
    assert policy.approval_token == "t"
    with pytest.raises(CliError, match="PYWORKER_ADMIN_REPLAY_IDS_MAX"):
        guardrails_from_env({"PYWORKER_ADMIN_REPLAY_IDS_MAX": "lots"})
