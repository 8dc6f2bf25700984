"""Per-RPC authorisation: the ``with_grpc_auth`` function type and a bearer-token helper."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

from pyworker.adapters.grpc.status import RpcError

#: ``auth(context, full_method_name, request)``; return (or await) to allow the call.
#: Raise GrpcAuthError to answer with its status; any other error answers PERMISSION_DENIED.
AuthFunction = Callable[[grpc.aio.ServicerContext[Any, Any], str, Any], Awaitable[None] | None]


class GrpcAuthError(RpcError):
    """An auth function's refusal; the client receives this status unchanged."""

    def __init__(
        self, code: grpc.StatusCode = grpc.StatusCode.UNAUTHENTICATED, message: str = "unauthenticated"
    ) -> None:
        super().__init__(code, message)


def bearer_token(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The token of the call's ``authorization: Bearer <token>`` metadata, if any."""
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def bearer_token_auth(tokens: Iterable[str]) -> AuthFunction:
    """An auth function accepting calls that carry one of ``tokens`` as a bearer token.

    Tokens are compared in constant time (``hmac.compare_digest``), against every
    accepted token, so the time taken says nothing about which one nearly matched.
    Missing or wrong tokens are UNAUTHENTICATED; tokens are never logged.

    Raises:
        ValueError: no token, or an empty one.
    """
    accepted = [token.encode() for token in tokens]
    if not accepted or any(not token.strip() for token in accepted):
        raise ValueError("bearer_token_auth needs at least one non-empty token")

    def check(context: grpc.aio.ServicerContext[Any, Any], _method: str, _request: Any) -> None:
        token = bearer_token(context)
        if token is None:
            raise GrpcAuthError(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")
        given = token.encode()
        matched = False
        for candidate in accepted:
            matched |= hmac.compare_digest(given, candidate)
        if not matched:
            raise GrpcAuthError(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")

    return check
