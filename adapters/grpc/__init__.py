"""The gRPC adapter: the worker.v1 WorkerService and AdminService served on grpc.aio (docs/grpc.md)."""

from pyworker.adapters.grpc.admin_servicer import AdminServicer
from pyworker.adapters.grpc.auth import AuthFunction, GrpcAuthError, bearer_token_auth
from pyworker.adapters.grpc.idempotency import IdempotencyStore, InMemoryIdempotencyStore
from pyworker.adapters.grpc.mapping import RequestInfo, current_request
from pyworker.adapters.grpc.redis_idempotency import RedisIdempotencyStore
from pyworker.adapters.grpc.results import ManagerResultsSource, ResultsSource
from pyworker.adapters.grpc.server import (
    ADMIN_SERVICE_NAME,
    SERVICE_NAME,
    GrpcServerConfig,
    GrpcServerOption,
    TlsFiles,
    WorkerGrpcServer,
    new_grpc_server,
    with_admin_service,
    with_config,
    with_grpc_auth,
    with_idempotency_store,
    with_inspector,
    with_results_source,
    with_tls,
)
from pyworker.adapters.grpc.servicer import WorkerServicer
from pyworker.adapters.grpc.status import RpcError

__all__ = [
    "ADMIN_SERVICE_NAME",
    "AdminServicer",
    "AuthFunction",
    "GrpcAuthError",
    "GrpcServerConfig",
    "GrpcServerOption",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "ManagerResultsSource",
    "RedisIdempotencyStore",
    "RequestInfo",
    "ResultsSource",
    "RpcError",
    "SERVICE_NAME",
    "TlsFiles",
    "WorkerGrpcServer",
    "WorkerServicer",
    "bearer_token_auth",
    "current_request",
    "new_grpc_server",
    "with_admin_service",
    "with_config",
    "with_grpc_auth",
    "with_idempotency_store",
    "with_inspector",
    "with_results_source",
    "with_tls",
]
