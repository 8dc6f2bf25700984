"""Handlers for `workerctl serve --app tests.support.grpc_app:registry` in the shutdown tests."""

from __future__ import annotations

import asyncio
from typing import Any

from pyworker.application import TypedHandlerRegistry
from pyworker.domain import TaskContext
from pyworker.protos.worker.v1 import payload_pb2

registry = TypedHandlerRegistry()


@registry.handler("slow", payload_pb2.SendEmailPayload)
async def slow(_ctx: TaskContext, _message: Any) -> str:
    await asyncio.sleep(0.5)  # long enough to be in flight when SIGTERM arrives
    return "done"


@registry.handler("forever", payload_pb2.SendEmailPayload)
async def forever(_ctx: TaskContext, _message: Any) -> str:
    await asyncio.Event().wait()
    return "never"
