"""The gRPC server: WorkerService plus health and reflection, TLS, limits, graceful stop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from pyworker.adapters.grpc.admin_servicer import AdminServicer
from pyworker.adapters.grpc.auth import AuthFunction
from pyworker.adapters.grpc.idempotency import IdempotencyStore
from pyworker.adapters.grpc.results import ResultsSource
from pyworker.adapters.grpc.servicer import WorkerServicer
from pyworker.application import DurableInspector, HandlerSpec, Service, TypedHandlerRegistry
from pyworker.application.admin import AdminService
from pyworker.domain import ConfigurationError
from pyworker.protos.worker.v1 import admin_pb2, admin_pb2_grpc, worker_pb2, worker_pb2_grpc

SERVICE_NAME: str = worker_pb2.DESCRIPTOR.services_by_name["WorkerService"].full_name
ADMIN_SERVICE_NAME: str = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024


@attrs.frozen
class TlsFiles:
    """PEM files: the server's certificate and key; with ``client_ca``, clients must present a certificate it signed."""

    cert: str
    key: str
    client_ca: str | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials read from the files. Raises ConfigurationError when one cannot be read."""
        try:
            cert = Path(self.cert).read_bytes()
            key = Path(self.key).read_bytes()
            ca = Path(self.client_ca).read_bytes() if self.client_ca else None
        except OSError as exc:
            raise ConfigurationError(reason=f"TLS file {exc.filename}: {exc.strerror}") from exc
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


@attrs.frozen
class GrpcServerConfig:
    """How the server listens. ``address`` is ``host:port`` (port 0 picks a free one)."""

    address: str = "127.0.0.1:50051"
    tls: TlsFiles | None = None
    max_receive_message_bytes: int = DEFAULT_MAX_MESSAGE
    max_send_message_bytes: int = DEFAULT_MAX_MESSAGE
    stream_buffer: int = 1024
    reflection: bool = True


@attrs.define
class _Parts:
    config: GrpcServerConfig = attrs.field(factory=GrpcServerConfig)
    auth: AuthFunction | None = None
    idempotency: IdempotencyStore | None = None
    results: ResultsSource | None = None
    inspector: DurableInspector | None = None
    admin: AdminService | None = None


#: An option of ``new_grpc_server`` (go-worker's ``With...`` functions).
GrpcServerOption = Callable[[_Parts], None]


def with_grpc_auth(fn: AuthFunction) -> GrpcServerOption:
    """Call ``fn(context, full_method, request)`` before every RPC."""
    return lambda parts: setattr(parts, "auth", fn)


def with_idempotency_store(store: IdempotencyStore) -> GrpcServerOption:
    """Keep idempotency keys in ``store`` (e.g. one shared by every node)."""
    return lambda parts: setattr(parts, "idempotency", store)


def with_results_source(source: ResultsSource) -> GrpcServerOption:
    """Read StreamResults from ``source`` instead of the service's own results."""
    return lambda parts: setattr(parts, "results", source)


def with_inspector(inspector: DurableInspector) -> GrpcServerOption:
    """Answer GetTask from the durable store for ids this node does not know."""
    return lambda parts: setattr(parts, "inspector", inspector)


def with_admin_service(admin: AdminService) -> GrpcServerOption:
    """Serve go-worker's AdminService too, over ``admin`` (behind the same auth; docs/grpc.md)."""
    return lambda parts: setattr(parts, "admin", admin)


def with_tls(tls: TlsFiles) -> GrpcServerOption:
    """Serve TLS (mutual TLS when ``tls.client_ca`` is set)."""
    return lambda parts: setattr(parts, "config", attrs.evolve(parts.config, tls=tls))


def with_config(config: GrpcServerConfig) -> GrpcServerOption:
    """Listen as ``config`` says (address, TLS, message limits)."""
    return lambda parts: setattr(parts, "config", config)


class WorkerGrpcServer:
    """A grpc.aio server serving WorkerService (and AdminService when given one), the health
    service and reflection.

    Health reports SERVING between ``start()`` and the beginning of ``stop()``.
    """

    def __init__(
        self, servicer: WorkerServicer, config: GrpcServerConfig, admin: AdminServicer | None = None
    ) -> None:
        self.config = config
        self.servicer = servicer
        self.admin = admin
        self._services = (SERVICE_NAME,) if admin is None else (SERVICE_NAME, ADMIN_SERVICE_NAME)
        self.port = 0
        self._health = health.aio.HealthServicer()
        options = [
            ("grpc.max_receive_message_length", config.max_receive_message_bytes),
            ("grpc.max_send_message_length", config.max_send_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.aio.server(options=options)
        worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, self._server)  # type: ignore[no-untyped-call]
        if admin is not None:
            admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, self._server)  # type: ignore[no-untyped-call]
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        if config.reflection:
            health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
            names = (*self._services, health_name, reflection.SERVICE_NAME)
            reflection.enable_server_reflection(names, self._server)

    async def start(self) -> int:
        """Bind and start serving; returns the bound port.

        Raises:
            ConfigurationError: the address cannot be bound, or a TLS file cannot be read.
        """
        address = self.config.address
        try:
            if self.config.tls is None:
                self.port = self._server.add_insecure_port(address)
            else:
                self.port = self._server.add_secure_port(address, self.config.tls.credentials())
        except RuntimeError as exc:
            raise ConfigurationError(reason=f"cannot listen on {address}: {exc}") from exc
        if self.port == 0:
            raise ConfigurationError(reason=f"cannot listen on {address}")
        await self._server.start()
        await self.set_serving(True)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for the whole server and for each of its services."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self._services):
            await self._health.set(name, status)

    async def stop(self, grace: float | None) -> None:
        """Stop accepting calls, let in-flight ones finish for ``grace`` seconds, then cancel them."""
        await self.set_serving(False)
        await self._server.stop(grace)

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


def new_grpc_server(
    service: Service,
    handlers: Mapping[str, HandlerSpec] | TypedHandlerRegistry | None,
    *options: GrpcServerOption,
) -> WorkerGrpcServer:
    """Build (not start) a server for ``service`` and ``handlers`` (go-worker's NewGRPCServer)."""
    parts = _Parts()
    for option in options:
        option(parts)
    servicer = WorkerServicer(
        service,
        handlers,
        auth=parts.auth,
        idempotency=parts.idempotency,
        results=parts.results,
        inspector=parts.inspector,
        stream_buffer=parts.config.stream_buffer,
    )
    admin = None if parts.admin is None else AdminServicer(parts.admin, auth=parts.auth)
    return WorkerGrpcServer(servicer, parts.config, admin)

