"""Wire-compatibility guard for the worker.v1 protos (docs/architecture.md#grpc) and a drift check of the stubs."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor

from pyworker.protos.worker.v1 import payload_pb2, worker_pb2, worker_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "protos" / "worker" / "v1"

# docs/architecture.md#grpc, field by field: name -> (number, type). Message types are fully qualified.
EXPECTED_MESSAGES: dict[str, dict[str, tuple[int, str]]] = {
    "Task": {
        "name": (1, "string"),
        "description": (2, "string"),
        "priority": (3, "int32"),
        "retries": (4, "int32"),
        "retry_delay": (5, "google.protobuf.Duration"),
        "payload": (6, "google.protobuf.Any"),
        "correlation_id": (7, "string"),
        "idempotency_key": (8, "string"),
        "metadata": (9, "map<string,string>"),
    },
    "DurableTask": {
        "name": (1, "string"),
        "description": (2, "string"),
        "priority": (3, "int32"),
        "retries": (4, "int32"),
        "retry_delay": (5, "google.protobuf.Duration"),
        "payload": (6, "google.protobuf.Any"),
        "idempotency_key": (7, "string"),
        "metadata": (8, "map<string,string>"),
    },
    "RegisterTasksRequest": {"tasks": (1, "repeated worker.v1.Task")},
    "RegisterTasksResponse": {"ids": (1, "repeated string")},
    "RegisterDurableTasksRequest": {"tasks": (1, "repeated worker.v1.DurableTask")},
    "RegisterDurableTasksResponse": {"ids": (1, "repeated string")},
    "StreamResultsRequest": {"ids": (1, "repeated string"), "close_on_completion": (2, "bool")},
    "StreamResultsResponse": {"id": (1, "string"), "output": (2, "string"), "error": (3, "string")},
    "CancelTaskRequest": {"id": (1, "string")},
    "CancelTaskResponse": {},
    "GetTaskRequest": {"id": (1, "string")},
    "GetTaskResponse": {
        "id": (1, "string"),
        "name": (2, "string"),
        "status": (3, "string"),
        "output": (4, "string"),
        "error": (5, "string"),
    },
}

EXPECTED_PAYLOADS: dict[str, dict[str, tuple[int, str]]] = {
    "SendEmailPayload": {"to": (1, "string"), "subject": (2, "string"), "body": (3, "string")},
}

# RPC name -> (request, response, client_streaming, server_streaming)
EXPECTED_RPCS: dict[str, tuple[str, str, bool, bool]] = {
    "RegisterTasks": ("RegisterTasksRequest", "RegisterTasksResponse", False, False),
    "RegisterDurableTasks": ("RegisterDurableTasksRequest", "RegisterDurableTasksResponse", False, False),
    "StreamResults": ("StreamResultsRequest", "StreamResultsResponse", False, True),
    "CancelTask": ("CancelTaskRequest", "CancelTaskResponse", False, False),
    "GetTask": ("GetTaskRequest", "GetTaskResponse", False, False),
}

_SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_BOOL: "bool",
}


def _render(field: FieldDescriptor) -> str:
    """The field's type as the spec writes it (``repeated X``, ``map<K,V>``, a full message name)."""
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        return f"map<{_render(key)},{_render(value)}>"
    base = message.full_name if message is not None else _SCALARS.get(field.type, f"type#{field.type}")
    return f"repeated {base}" if field.is_repeated else base


def _fields(message: Descriptor) -> dict[str, tuple[int, str]]:
    return {field.name: (field.number, _render(field)) for field in message.fields}


@pytest.mark.parametrize("module", [worker_pb2, payload_pb2], ids=["worker", "payload"])
def test_package_is_worker_v1(module: object) -> None:
    descriptor: FileDescriptor = module.DESCRIPTOR  # type: ignore[attr-defined]
    assert descriptor.package == "worker.v1"


def test_worker_proto_declares_exactly_the_spec_messages() -> None:
    assert set(worker_pb2.DESCRIPTOR.message_types_by_name) == set(EXPECTED_MESSAGES)
    assert not worker_pb2.DESCRIPTOR.enum_types_by_name


def test_payload_proto_declares_exactly_the_example_payload() -> None:
    assert set(payload_pb2.DESCRIPTOR.message_types_by_name) == set(EXPECTED_PAYLOADS)
    assert not payload_pb2.DESCRIPTOR.services_by_name


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [(worker_pb2, name, fields) for name, fields in EXPECTED_MESSAGES.items()]
    + [(payload_pb2, name, fields) for name, fields in EXPECTED_PAYLOADS.items()],
    ids=[*EXPECTED_MESSAGES, *EXPECTED_PAYLOADS],
)
def test_message_fields_match_the_spec(
    module: object, name: str, expected: dict[str, tuple[int, str]]
) -> None:
    message: Descriptor = module.DESCRIPTOR.message_types_by_name[name]  # type: ignore[attr-defined]
    assert message.full_name == f"worker.v1.{name}"
    assert _fields(message) == expected
    # proto3 implicit presence everywhere: no `optional`, no oneofs (JSON/wire shape as in Go).
    assert not message.oneofs
    for field in message.fields:
        if field.message_type is None and not field.is_repeated:
            assert not field.has_presence, f"{name}.{field.name} must not be `optional`"


def test_service_and_rpcs_match_the_spec() -> None:
    assert set(worker_pb2.DESCRIPTOR.services_by_name) == {"WorkerService"}
    service = worker_pb2.DESCRIPTOR.services_by_name["WorkerService"]
    assert service.full_name == "worker.v1.WorkerService"
    actual = {
        method.name: (
            method.input_type.name,
            method.output_type.name,
            method.client_streaming,
            method.server_streaming,
        )
        for method in service.methods
    }
    assert actual == EXPECTED_RPCS
    for method in service.methods:
        assert method.input_type.file is worker_pb2.DESCRIPTOR
        assert method.output_type.file is worker_pb2.DESCRIPTOR


class _RecordingChannel:
    """Stands in for grpc.Channel: records (kind, full method path) of every multicallable built."""

    def __init__(self) -> None:
        self.calls: dict[str, str] = {}

    def __getattr__(self, kind: str) -> Any:
        def build(path: str, **_: Any) -> str:
            self.calls[path] = kind
            return path

        return build


def test_grpc_stub_uses_the_go_worker_method_paths_and_kinds() -> None:
    channel = _RecordingChannel()
    worker_pb2_grpc.WorkerServiceStub(channel)  # type: ignore[no-untyped-call]
    expected = {
        f"/worker.v1.WorkerService/{rpc}": ("unary_stream" if server_streaming else "unary_unary")
        for rpc, (_, _, _, server_streaming) in EXPECTED_RPCS.items()
    }
    assert channel.calls == expected
    servicer = worker_pb2_grpc.WorkerServiceServicer
    assert all(hasattr(servicer, rpc) for rpc in EXPECTED_RPCS)


def test_send_email_payload_any_type_url_matches_go() -> None:
    task = worker_pb2.Task()
    task.payload.Pack(payload_pb2.SendEmailPayload(to="a"))
    assert task.payload.type_url == "type.googleapis.com/worker.v1.SendEmailPayload"


def test_grpcio_and_grpcio_tools_are_the_same_version() -> None:
    assert metadata.version("grpcio") == metadata.version("grpcio-tools")


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    """Regenerate exactly as ``make protos`` does, into a temp dir, and compare byte for byte."""
    protos = sorted(f"pyworker/{path.relative_to(REPO_ROOT)}" for path in PROTO_DIR.glob("*.proto"))
    assert protos == [f"pyworker/protos/worker/v1/{name}.proto" for name in ("admin", "payload", "worker")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{REPO_ROOT}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *protos,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    generated_dir = tmp_path / "pyworker" / "protos" / "worker" / "v1"
    generated = {path.name: path.read_bytes() for path in generated_dir.iterdir()}
    committed = {
        path.name: path.read_bytes()
        for path in PROTO_DIR.iterdir()
        if path.name.endswith(("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"))
    }
    assert sorted(generated) == sorted(committed), "stub files added or missing: run `make protos`"
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, f"stale generated stubs {stale}: run `make protos`"
