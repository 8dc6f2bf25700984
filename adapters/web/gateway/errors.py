"""The gateway's one error table (admin error kind -> HTTP status and go-worker's code name) and the envelope."""

from __future__ import annotations

import logging
import re
import uuid

import attrs
from starlette.responses import JSONResponse

from pyworker.application.admin import error_code
from pyworker.domain import WorkerError

logger = logging.getLogger("pyworker.admin")

#: The admin error kinds (``pyworker.application.admin.error_code``) -> (HTTP status, envelope code):
#: go-worker's gRPC -> HTTP table with its lower-cased gRPC code names (docs/admin.md, "Errors").
ERROR_STATUS: dict[str, tuple[int, str]] = {
    "invalid_argument": (400, "invalidargument"),
    "not_found": (404, "notfound"),
    "permission_denied": (403, "permissiondenied"),
    "resource_exhausted": (429, "resourceexhausted"),
    "failed_precondition": (412, "failedprecondition"),
    "unimplemented": (501, "unimplemented"),
    "unavailable": (503, "unavailable"),
    "internal": (500, "internal"),
}
#: The longest X-Request-Id kept (bytes; the kept characters are ASCII).
REQUEST_ID_MAX = 128
_NOT_ID = re.compile(r"[^A-Za-z0-9_.\-]")


@attrs.define(auto_exc=True, eq=False)
class GatewayError(Exception):
    """A request the gateway refuses itself (method, body, auth, read-only): ``status``, ``code``, ``message``."""

    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def request_id(given: str | None) -> str:
    """go-worker's X-Request-Id rule: trimmed, every character outside ``[A-Za-z0-9_.-]`` dropped,
    cut to 128 bytes; a random UUID when nothing is left."""
    kept = _NOT_ID.sub("", (given or "").strip())[:REQUEST_ID_MAX]
    return kept or str(uuid.uuid4())


def actor_name(given: str | None) -> str:
    """An ``X-Admin-Actor`` as the audit log keeps it: printable characters only, trimmed, at most 128."""
    return "".join(ch for ch in (given or "") if ch.isprintable()).strip()[:REQUEST_ID_MAX]


def envelope(request_id_value: str, status: int, code: str, message: str) -> JSONResponse:
    """``{"requestId", "error": {"code", "message"}}`` with the request id in the header too."""
    body = {"requestId": request_id_value, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id_value})


def error_response(request_id_value: str, exc: BaseException) -> JSONResponse:
    """The envelope of any failure. An error that is not a WorkerError is a bug: logged with its
    traceback and answered 500 without its text."""
    if isinstance(exc, GatewayError):
        return envelope(request_id_value, exc.status, exc.code, exc.message)
    status, code = ERROR_STATUS[error_code(exc)]
    if not isinstance(exc, WorkerError):
        logger.error("unexpected error serving an admin gateway request", exc_info=exc)
        return envelope(request_id_value, 500, "internal", f"internal error ({type(exc).__name__})")
    if status == 500:
        logger.error("admin gateway: %s", exc, exc_info=exc)
        return envelope(request_id_value, status, code, f"internal error: {exc}")
    return envelope(request_id_value, status, code, str(exc))
