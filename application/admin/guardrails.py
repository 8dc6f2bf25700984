"""The admin guardrails: approval for destructive actions, replay limits, the run-now rate limit."""

from __future__ import annotations

import collections
import hmac

import attrs

from pyworker.application.admin.audit import RequestContext
from pyworker.application.ports import Clock
from pyworker.domain.admin import AdminApprovalError, AdminLimitError


def _thousand(value: int) -> int:
    return int(value) if value > 0 else 1000


def _thirty(value: int) -> int:
    return int(value) if value > 0 else 30


def _strip(value: str) -> str:
    return str(value or "").strip()


def _window(value: float) -> float:
    return float(value) if value > 0 else 60.0


@attrs.frozen
class AdminGuardrails:
    """go-worker's AdminGuardrails (docs/grpc.md, "Guardrails"); a value <= 0 takes the default.

    Attributes:
        replay_limit_max: ReplayDLQ's limit may not exceed it.
        replay_ids_max: ReplayDLQByID takes at most this many ids (as sent, before dropping blanks).
        schedule_run_max, schedule_run_window: RunSchedule admits this many runs per schedule
            name within a sliding window of this many seconds (per admin process).
        require_approval: RunSchedule, ReplayDLQ and ReplayDLQByID need an approval token.
        approval_token: the token they need (compared in constant time); "" accepts any non-empty one.
    """

    replay_limit_max: int = attrs.field(default=1000, converter=_thousand)
    replay_ids_max: int = attrs.field(default=1000, converter=_thousand)
    schedule_run_max: int = attrs.field(default=30, converter=_thirty)
    schedule_run_window: float = attrs.field(default=60.0, converter=_window)
    require_approval: bool = False
    approval_token: str = attrs.field(default="", converter=_strip, repr=False)

    def check_approval(self, ctx: RequestContext) -> None:
        """Raises AdminApprovalError unless the request carries the approval this policy needs."""
        if not self.require_approval:
            return
        if not ctx.approval:
            raise AdminApprovalError(reason="admin approval token is required")
        if self.approval_token and not hmac.compare_digest(ctx.approval.encode(), self.approval_token.encode()):
            raise AdminApprovalError(reason="admin approval token is invalid")

    def check_replay_limit(self, limit: int) -> None:
        if limit > self.replay_limit_max:
            raise AdminLimitError(reason=f"admin replay limit exceeds policy ({limit} > {self.replay_limit_max})")

    def check_replay_ids(self, count: int) -> None:
        if count > self.replay_ids_max:
            raise AdminLimitError(reason=f"admin replay ids limit exceeded ({count} > {self.replay_ids_max})")


class RunRateLimiter:
    """Sliding-window admission of run-nows per schedule name; a run is counted when admitted."""

    def __init__(self, guardrails: AdminGuardrails, clock: Clock) -> None:
        self._max = guardrails.schedule_run_max
        self._window = guardrails.schedule_run_window
        self._clock = clock
        self._runs: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def admit(self, name: str) -> None:
        """Count one run of ``name``. Raises AdminLimitError when the window is full."""
        now = self._clock.now()
        runs = self._runs[name or "*"]
        while runs and runs[0] <= now - self._window:
            runs.popleft()
        if len(runs) >= self._max:
            raise AdminLimitError(reason="admin schedule run rate limit exceeded")
        runs.append(now)
