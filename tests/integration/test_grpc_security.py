"""TLS, mutual TLS and message size limits on a real server and channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from pyworker.adapters.grpc import GrpcServerConfig, TlsFiles
from pyworker.application import TaskManager
from pyworker.domain import ConfigurationError
from pyworker.protos.worker.v1 import worker_pb2, worker_pb2_grpc
from tests.support.certs import Certs, make_certs
from tests.support.grpc_server import Gates, email, handlers_for, serving
from tests.support.waits import within


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
async def manager() -> AsyncIterator[TaskManager]:
    async with TaskManager(max_workers=2, tasks_per_second=0) as tm:
        yield tm


def register_request() -> worker_pb2.RegisterTasksRequest:
    return worker_pb2.RegisterTasksRequest(tasks=[email()])


def client_credentials(certs: Certs, identity: str | None = None) -> grpc.ChannelCredentials:
    pem = getattr(certs, identity) if identity else None
    return grpc.ssl_channel_credentials(
        root_certificates=certs.ca.read_bytes(),
        private_key=pem.key.read_bytes() if pem else None,
        certificate_chain=pem.cert.read_bytes() if pem else None,
    )


async def test_tls_serves_a_client_that_trusts_the_ca(manager: TaskManager, certs: Certs) -> None:
    config = GrpcServerConfig(address="127.0.0.1:0", tls=TlsFiles(str(certs.server.cert), str(certs.server.key)))
    async with serving(manager, handlers_for(Gates()), config=config, credentials=client_credentials(certs)) as served:
        reply = await within(served.stub.RegisterTasks(register_request()))
        assert len(reply.ids) == 1
        plain = grpc.aio.insecure_channel(served.target)
        try:
            stub: Any = worker_pb2_grpc.WorkerServiceStub(plain)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await within(stub.RegisterTasks(register_request(), timeout=2))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert len(manager.get_tasks()) == 1
        finally:
            await plain.close()


@pytest.mark.parametrize(("identity", "accepted"), [("client", True), (None, False), ("stranger", False)])
async def test_mutual_tls_needs_a_client_certificate_from_the_ca(
    manager: TaskManager, certs: Certs, identity: str | None, accepted: bool
) -> None:
    tls = TlsFiles(str(certs.server.cert), str(certs.server.key), client_ca=str(certs.ca))
    config = GrpcServerConfig(address="127.0.0.1:0", tls=tls)
    credentials = client_credentials(certs, identity)
    async with serving(manager, handlers_for(Gates()), config=config, credentials=credentials) as served:
        call = served.stub.RegisterTasks(register_request(), timeout=3)
        if accepted:
            assert len((await within(call)).ids) == 1
        else:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await within(call)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert manager.get_tasks() == []


async def test_a_missing_tls_file_is_a_configuration_error(manager: TaskManager, tmp_path: Path) -> None:
    config = GrpcServerConfig(address="127.0.0.1:0", tls=TlsFiles(str(tmp_path / "no.pem"), str(tmp_path / "no.key")))
    with pytest.raises(ConfigurationError, match=r"no\.pem"):
        async with serving(manager, handlers_for(Gates()), config=config):
            pass


async def test_a_message_over_the_limit_is_resource_exhausted(manager: TaskManager) -> None:
    config = GrpcServerConfig(address="127.0.0.1:0", max_receive_message_bytes=4096)
    async with serving(manager, handlers_for(Gates()), config=config) as served:
        huge = worker_pb2.RegisterTasksRequest(tasks=[email(metadata={"blob": "x" * 10_000})])
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await within(served.stub.RegisterTasks(huge))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert len((await within(served.stub.RegisterTasks(register_request()))).ids) == 1
    assert len(manager.get_tasks()) == 1
