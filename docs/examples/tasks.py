"""Example durable app: the handlers a `workerctl worker --app tasks:registry` node runs (proto codec)."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from pyworker.application import TypedDurableRegistry
from pyworker.domain import TaskContext
from pyworker.protos.worker.v1.payload_pb2 import SendEmailPayload

#: What `workerctl worker --app tasks:registry` loads: handler name -> (message type, function).
registry = TypedDurableRegistry()


@registry.handler("send_email", SendEmailPayload)
async def send_email(ctx: TaskContext, message: SendEmailPayload) -> str:
    """Pretend to send an email. A real handler must be idempotent: delivery is at-least-once."""
    print(f"send_email {ctx.task_id} attempt={ctx.attempt} to={message.to} subject={message.subject!r}", flush=True)
    return f"sent to {message.to}"


@registry.handler("resize", struct_pb2.Struct)
async def resize(ctx: TaskContext, message: struct_pb2.Struct) -> str:
    """Pretend to resize an image. ``Struct`` carries a JSON-like dict through the proto codec."""
    job = json_format.MessageToDict(message)
    print(f"resize {ctx.task_id} attempt={ctx.attempt} image={job['image']} width={int(job['width'])}", flush=True)
    return f"resized {job['image']}"
