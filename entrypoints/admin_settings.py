"""The AdminService as workerctl serve and workerctl admin build it, and its guardrails from the
environment: PYWORKER_ADMIN_* (go-worker's WORKER_ADMIN_* also read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pyworker.application import DurableInspector, TaskManager
from pyworker.application.admin import AdminGuardrails, AdminService, AdminStoreProvider
from pyworker.application.ports import NodeRegistryProvider
from pyworker.entrypoints.durations import parse_duration
from pyworker.entrypoints.errors import EXIT_USAGE, CliError

#: Setting -> the suffix of its variables (PYWORKER_ADMIN_<suffix>, else WORKER_ADMIN_<suffix>).
GUARDRAIL_VARIABLES = {
    "replay_limit_max": "REPLAY_LIMIT_MAX",
    "replay_ids_max": "REPLAY_IDS_MAX",
    "schedule_run_max": "SCHEDULE_RUN_MAX",
    "schedule_run_window": "SCHEDULE_RUN_WINDOW",
    "require_approval": "REQUIRE_APPROVAL",
    "approval_token": "APPROVAL_TOKEN",
}


def _value(env: Mapping[str, str], suffix: str) -> tuple[str, str] | None:
    for name in (f"PYWORKER_ADMIN_{suffix}", f"WORKER_ADMIN_{suffix}"):
        if name in env:
            return name, env[name].strip()
    return None


def guardrails_from_env(env: Mapping[str, str] | None = None) -> AdminGuardrails:
    """The guardrails the environment sets (unset or empty: the default).

    Raises:
        CliError: a number or duration that does not parse.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for field, suffix in GUARDRAIL_VARIABLES.items():
        found = _value(env, suffix)
        if found is None or not found[1]:
            continue
        name, text = found
        try:
            if field == "schedule_run_window":
                values[field] = parse_duration(text)
            elif field == "require_approval":
                values[field] = text.lower() in ("true", "1", "yes")
            elif field == "approval_token":
                values[field] = text
            else:
                values[field] = int(text)
        except ValueError:
            raise CliError(f"${name}: {text!r} is not a valid value", EXIT_USAGE) from None
    return AdminGuardrails(**values)  # type: ignore[arg-type]


def admin_service(backend: Any, manager: TaskManager, guardrails: AdminGuardrails) -> AdminService:
    """go-worker's AdminService over the durable backend and the manager's schedules."""
    if not isinstance(backend, AdminStoreProvider) or not isinstance(backend, DurableInspector):
        raise CliError("the durable backend keeps no admin state (queue weights, audit log)", EXIT_USAGE)
    nodes = backend.node_registry() if isinstance(backend, NodeRegistryProvider) else None
    return AdminService(backend, backend.queue_weights(), backend.audit_log(), schedules=manager.schedules,
                        nodes=nodes, guardrails=guardrails)  # fmt: skip
