"""A real WorkerService on 127.0.0.1 (port 0) and a real channel to it, for the gRPC tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import grpc

from pyworker.adapters.grpc import (
    GrpcServerConfig,
    GrpcServerOption,
    WorkerGrpcServer,
    current_request,
    new_grpc_server,
    with_config,
)
from pyworker.application import Service, TypedHandlerRegistry
from pyworker.domain import TaskContext
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2, worker_pb2_grpc


@attrs.define
class Gates:
    """Events the test handlers wait on, so a test decides when a task may finish."""

    release: asyncio.Event = attrs.field(factory=asyncio.Event)
    started: asyncio.Event = attrs.field(factory=asyncio.Event)


def handlers_for(gates: Gates) -> TypedHandlerRegistry:
    """send_email returns "sent to <to>"; block waits for ``gates.release``; fail raises;
    whoami and whoami_sync return the request's "<correlation id>|<tenant metadata>"."""
    registry = TypedHandlerRegistry()

    @registry.handler("send_email", payload_pb2.SendEmailPayload)
    async def send_email(_ctx: TaskContext, message: payload_pb2.SendEmailPayload) -> str:
        return f"sent to {message.to}"

    async def block(_ctx: TaskContext, _message: Any) -> str:
        gates.started.set()
        await gates.release.wait()
        return "released"

    async def fail(_ctx: TaskContext, _message: Any) -> str:
        raise RuntimeError("boom")

    async def whoami(_ctx: TaskContext, _message: Any) -> str:
        request = current_request()
        return f"{request.correlation_id}|{request.metadata.get('tenant', '')}"

    def whoami_sync(_ctx: TaskContext, _message: Any) -> str:  # runs in the thread pool
        request = current_request()
        return f"{request.correlation_id}|{request.metadata.get('tenant', '')}"

    registry.add("whoami", payload_pb2.SendEmailPayload, whoami)
    registry.add("whoami_sync", payload_pb2.SendEmailPayload, whoami_sync)
    registry.add("block", payload_pb2.SendEmailPayload, block)
    registry.add("fail", payload_pb2.SendEmailPayload, fail)
    return registry


@attrs.define
class Served:
    server: WorkerGrpcServer
    channel: grpc.aio.Channel
    stub: worker_pb2_grpc.WorkerServiceStub
    target: str


@contextlib.asynccontextmanager
async def serving(
    service: Service,
    handlers: TypedHandlerRegistry,
    *options: GrpcServerOption,
    config: GrpcServerConfig | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    channel_options: list[tuple[str, Any]] | None = None,
) -> AsyncIterator[Served]:
    """Start a server on a free loopback port, yield it with a channel, stop both."""
    config = config or GrpcServerConfig(address="127.0.0.1:0")
    server = new_grpc_server(service, handlers, with_config(config), *options)
    port = await server.start()
    target = f"127.0.0.1:{port}"
    if credentials is None:
        channel = grpc.aio.insecure_channel(target, options=channel_options)
    else:
        channel = grpc.aio.secure_channel(target, credentials, options=channel_options)
    try:
        yield Served(server, channel, worker_pb2_grpc.WorkerServiceStub(channel), target)  # type: ignore[no-untyped-call]
    finally:
        await channel.close()
        await server.stop(None)


def email(to: str = "a@example.com", name: str = "send_email", **fields: Any) -> worker_pb2.Task:
    """A RegisterTasks task carrying a SendEmailPayload."""
    task = worker_pb2.Task(name=name, **fields)
    task.payload.Pack(payload_pb2.SendEmailPayload(to=to, subject="hi", body="hello"))
    return task


def durable_email(to: str = "a@example.com", name: str = "send_email", **fields: Any) -> worker_pb2.DurableTask:
    """A RegisterDurableTasks task carrying a SendEmailPayload."""
    task = worker_pb2.DurableTask(name=name, **fields)
    task.payload.Pack(payload_pb2.SendEmailPayload(to=to, subject="hi", body="hello"))
    return task
