"""The admin plane: DurableAdmin (the CLI's operator actions) and AdminService (go-worker's AdminService)."""

from pyworker.application.admin.audit import RequestContext, error_code, payload_hash
from pyworker.application.admin.dlq import DeadLetterPage
from pyworker.application.admin.durable import DurableAdmin, parse_task_id
from pyworker.application.admin.guardrails import AdminGuardrails
from pyworker.application.admin.history import HistorySampler, HistoryStore, HistoryStoreProvider, Sample
from pyworker.application.admin.ports import DEFAULT_AUDIT_LIMIT, AdminStoreProvider, AuditLog, QueueWeightStore
from pyworker.application.admin.schedules import ScheduleEntry, ScheduleEvent
from pyworker.application.admin.service import JOBS_UNSUPPORTED, AdminService, Overview

__all__ = [
    "AdminGuardrails",
    "AdminService",
    "AdminStoreProvider",
    "AuditLog",
    "DEFAULT_AUDIT_LIMIT",
    "DeadLetterPage",
    "DurableAdmin",
    "HistorySampler",
    "HistoryStore",
    "HistoryStoreProvider",
    "JOBS_UNSUPPORTED",
    "Overview",
    "QueueWeightStore",
    "RequestContext",
    "Sample",
    "ScheduleEntry",
    "ScheduleEvent",
    "error_code",
    "payload_hash",
    "parse_task_id",
]
