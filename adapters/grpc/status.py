"""The one error -> gRPC status table of the WorkerService (docs/grpc.md#status-codes)."""

from __future__ import annotations

import asyncio
import logging

import grpc

from pyworker.domain import InvalidTaskError, TaskCancelledError, TaskNotFoundError, WorkerError

_log = logging.getLogger("pyworker.grpc")


class RpcError(Exception):
    """A request the servicer refuses itself, with the status it gets on the wire."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status_of(exc: BaseException, prefix: str = "") -> tuple[grpc.StatusCode, str]:
    """The status code and message for an error raised while serving an RPC.

    ``prefix`` ("register task", "register durable task") leads the message of the
    errors that become INTERNAL, as go-worker words them.
    """
    if isinstance(exc, RpcError):
        return exc.code, exc.message
    if isinstance(exc, InvalidTaskError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, TaskNotFoundError):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, asyncio.CancelledError | TaskCancelledError):
        return grpc.StatusCode.CANCELLED, "context canceled"
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "context deadline exceeded"
    lead = f"{prefix}: " if prefix else ""
    if isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        return status_of(exc.exceptions[0], prefix)
    if isinstance(exc, WorkerError):
        return grpc.StatusCode.INTERNAL, f"{lead}{exc}"
    _log.error("unexpected error serving an RPC", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"{lead}internal error ({type(exc).__name__})"
