"""The admin plane's values and errors: audit events, queue summaries, and the admin refusals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs

from pyworker.domain.errors import WorkerError

#: Status strings of an audit event (go-worker's).
AUDIT_OK = "ok"
AUDIT_ERROR = "error"


def _frozen(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class AuditEvent:
    """One admin action as the audit log keeps it (docs/grpc.md, "The audit log").

    ``at`` is epoch seconds; ``status`` is ``ok`` or ``error``; ``payload_hash`` the
    lower-case hex SHA-256 of the canonical request; ``detail`` ``ok`` or the error
    text; ``metadata`` carries ``code`` (the error kind) for a refused action.
    """

    at: float
    actor: str
    request_id: str
    action: str
    target: str
    status: str
    payload_hash: str
    detail: str
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)


@attrs.frozen
class QueueSummary:
    """One queue as the admin plane shows it. ``dead`` is -1 when the DLQ is too large to count by queue."""

    name: str
    ready: int
    delayed: int
    processing: int
    dead: int
    weight: int
    paused: bool


@attrs.define(auto_exc=True, eq=False)
class AdminError(WorkerError):
    """An admin request refused; ``code`` is the kind every transport maps (gRPC status, HTTP status)."""

    template = "{reason}"
    code: ClassVar[str] = "internal"
    reason: str


@attrs.define(auto_exc=True, eq=False)
class AdminInvalidArgumentError(AdminError, ValueError):
    """A name, weight, id list or limit the admin plane cannot take."""

    code = "invalid_argument"


@attrs.define(auto_exc=True, eq=False)
class AdminNotFoundError(AdminError, LookupError):
    """No such queue (or other admin target)."""

    code = "not_found"


@attrs.define(auto_exc=True, eq=False)
class AdminApprovalError(AdminError):
    """A destructive action without the approval token, or with a wrong one."""

    code = "permission_denied"


@attrs.define(auto_exc=True, eq=False)
class AdminLimitError(AdminError):
    """A guardrail refused the request (replay limit, replay ids, run-now rate, DLQ scan size)."""

    code = "resource_exhausted"


@attrs.define(auto_exc=True, eq=False)
class AdminPreconditionError(AdminError):
    """The request cannot apply to the current state (no factory of that name, durable flag differs)."""

    code = "failed_precondition"


@attrs.define(auto_exc=True, eq=False)
class AdminUnsupportedError(AdminError):
    """This admin plane cannot do that (container jobs; schedules without a TaskManager)."""

    code = "unimplemented"
