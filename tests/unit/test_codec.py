"""Unit tests for the durable payload codecs (adapters.codec)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from google.protobuf import duration_pb2

from pyworker.adapters.codec import JsonDurableCodec, ProtoDurableCodec
from pyworker.application.ports import DurableCodec
from pyworker.domain.errors import CodecError, WorkerError
from pyworker.protos.worker.v1 import payload_pb2, worker_pb2


@attrs.define
class Invoice:
    number: int
    customer: str
    lines: list[str] = attrs.field(factory=list)


@attrs.define
class PrivateField:
    _secret: str
    visible: int = 0


@dataclasses.dataclass
class Reminder:
    title: str
    minutes: int = 5


def _email() -> payload_pb2.SendEmailPayload:
    return payload_pb2.SendEmailPayload(to="a@b", subject="hi", body="x")


CODECS: list[DurableCodec] = [ProtoDurableCodec(), JsonDurableCodec()]


# --- both codecs ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_codecs_satisfy_the_port(codec: DurableCodec) -> None:
    assert isinstance(codec, DurableCodec)


def test_codec_names() -> None:
    assert ProtoDurableCodec.name == "proto"
    assert JsonDurableCodec.name == "json"


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_send_email_payload_round_trips(codec: DurableCodec) -> None:
    original = _email()
    data = codec.encode(original)
    assert isinstance(data, bytes)

    decoded = codec.decode(data, payload_pb2.SendEmailPayload)

    assert isinstance(decoded, payload_pb2.SendEmailPayload)
    assert decoded == original
    assert (decoded.to, decoded.subject, decoded.body) == ("a@b", "hi", "x")


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_decode_returns_a_fresh_message_from_make(codec: DurableCodec) -> None:
    made: list[payload_pb2.SendEmailPayload] = []

    def make() -> payload_pb2.SendEmailPayload:
        made.append(payload_pb2.SendEmailPayload())
        return made[-1]

    decoded = codec.decode(codec.encode(_email()), make)
    assert decoded is made[0]
    assert len(made) == 1


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_task_with_duration_any_and_map_round_trips(codec: DurableCodec) -> None:
    task = worker_pb2.Task(
        name="send_email",
        priority=2,
        retries=1,
        retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000),
        correlation_id="c-1",
        idempotency_key="k-1",
        metadata={"queue": "mail", "weight": "3"},
    )
    task.payload.Pack(_email())

    decoded = codec.decode(codec.encode(task), worker_pb2.Task)

    assert decoded == task
    unpacked = payload_pb2.SendEmailPayload()
    assert decoded.payload.Unpack(unpacked)
    assert unpacked == _email()


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_decode_wraps_factory_failure(codec: DurableCodec) -> None:
    def make() -> Any:
        raise RuntimeError("boom")

    with pytest.raises(CodecError, match="boom"):
        codec.decode(codec.encode(_email()), make)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_decode_rejects_non_bytes(codec: DurableCodec) -> None:
    with pytest.raises(CodecError, match="bytes"):
        codec.decode("not bytes", payload_pb2.SendEmailPayload)  # type: ignore[arg-type]


def test_codec_error_is_a_worker_error_and_value_error() -> None:
    with pytest.raises(CodecError) as info:
        ProtoDurableCodec().encode(object())
    assert isinstance(info.value, WorkerError)
    assert isinstance(info.value, ValueError)


# --- ProtoDurableCodec ---------------------------------------------------------------------


def test_proto_encoding_is_protobuf_binary_like_go_worker() -> None:
    # Golden bytes: field 1 "a@b", field 2 "hi", field 3 "x", length-delimited (wire type 2).
    assert ProtoDurableCodec().encode(_email()) == b"\n\x03a@b\x12\x02hi\x1a\x01x"


def test_proto_encoding_is_deterministic_for_maps() -> None:
    codec = ProtoDurableCodec()
    a = worker_pb2.Task(metadata={f"k{i}": str(i) for i in range(20)})
    b = worker_pb2.Task(metadata={f"k{i}": str(i) for i in reversed(range(20))})
    assert codec.encode(a) == codec.encode(b)


GARBAGE_PROTO = [
    pytest.param(b"garbage", id="ascii-text"),
    pytest.param(b"\xff\xff\xff\xff", id="bad-varint"),
    pytest.param(b"\n\x05ab", id="truncated-length"),
    pytest.param(b"\n\x02\xff\xfe", id="bad-utf8-string"),
]


@pytest.mark.parametrize("data", GARBAGE_PROTO)
def test_proto_decode_garbage_raises_instead_of_returning_an_empty_message(data: bytes) -> None:
    codec = ProtoDurableCodec()
    returned: list[Any] = []
    with pytest.raises(CodecError) as info:
        returned.append(codec.decode(data, payload_pb2.SendEmailPayload))
    assert returned == []  # no (empty or partial) message escaped
    assert "worker.v1.SendEmailPayload" in str(info.value)
    assert "unmarshal protobuf message" in str(info.value)


def test_proto_decode_of_empty_bytes_is_the_empty_message() -> None:
    # Contrast with the garbage test: only b"" legitimately means "all defaults".
    decoded = ProtoDurableCodec().decode(b"", payload_pb2.SendEmailPayload)
    assert decoded == payload_pb2.SendEmailPayload()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"to": "a@b"}, id="dict"),
        pytest.param(Invoice(number=1, customer="c"), id="attrs"),
        pytest.param("text", id="str"),
        pytest.param(None, id="none"),
        pytest.param(payload_pb2.SendEmailPayload, id="message-class"),
    ],
)
def test_proto_encode_rejects_non_messages(value: Any) -> None:
    with pytest.raises(CodecError, match="not a protobuf message"):
        ProtoDurableCodec().encode(value)


def test_proto_decode_rejects_a_factory_that_is_not_a_message() -> None:
    with pytest.raises(CodecError, match="dict"):
        ProtoDurableCodec().decode(ProtoDurableCodec().encode(_email()), dict)


# --- JsonDurableCodec ----------------------------------------------------------------------


def test_json_encoding_is_compact_sorted_utf8() -> None:
    codec = JsonDurableCodec()
    assert codec.encode(_email()) == b'{"body":"x","subject":"hi","to":"a@b"}'
    assert codec.encode({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'.encode()


def test_json_encodes_proto_messages_with_proto_field_names() -> None:
    data = JsonDurableCodec().encode(worker_pb2.Task(correlation_id="c", idempotency_key="k"))
    assert data == b'{"correlation_id":"c","idempotency_key":"k"}'


def test_json_dict_round_trips() -> None:
    codec = JsonDurableCodec()
    value = {"to": "a@b", "tags": ["x", "y"], "n": 3, "ok": True, "none": None, "ratio": 0.5}
    assert codec.decode(codec.encode(value), dict) == value


def test_json_attrs_round_trips() -> None:
    codec = JsonDurableCodec()
    value = Invoice(number=7, customer="acme", lines=["a", "b"])
    data = codec.encode(value)
    assert data == b'{"customer":"acme","lines":["a","b"],"number":7}'
    assert codec.decode(data, lambda: Invoice(number=0, customer="")) == value


def test_json_attrs_private_field_uses_its_init_alias() -> None:
    codec = JsonDurableCodec()
    value = PrivateField(secret="s", visible=2)
    assert codec.decode(codec.encode(value), lambda: PrivateField(secret="")) == value


def test_json_dataclass_round_trips() -> None:
    codec = JsonDurableCodec()
    value = Reminder(title="call", minutes=10)
    assert codec.decode(codec.encode(value), lambda: Reminder(title="")) == value


def test_json_nested_structured_values_are_encoded() -> None:
    data = JsonDurableCodec().encode({"email": _email(), "reminder": Reminder(title="t")})
    assert data == b'{"email":{"body":"x","subject":"hi","to":"a@b"},"reminder":{"minutes":5,"title":"t"}}'


@pytest.mark.parametrize(
    ("value", "make"),
    [
        pytest.param([1, "two", None], lambda: None, id="list"),
        pytest.param("plain", lambda: "", id="str"),
        pytest.param(42, lambda: 0, id="int"),
        pytest.param(None, lambda: None, id="none"),
    ],
)
def test_json_other_templates_get_the_parsed_value(value: Any, make: Callable[[], Any]) -> None:
    codec = JsonDurableCodec()
    assert codec.decode(codec.encode(value), make) == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(object(), id="object"),
        pytest.param({1, 2}, id="set"),
        pytest.param(b"bytes", id="bytes"),
        pytest.param(float("nan"), id="nan"),
        pytest.param({"nested": object()}, id="nested-object"),
    ],
)
def test_json_encode_rejects_unserialisable_values(value: Any) -> None:
    with pytest.raises(CodecError, match="marshal json payload"):
        JsonDurableCodec().encode(value)


GARBAGE_JSON = [
    pytest.param(b"garbage", id="not-json"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b'{"to": "a@b"', id="truncated"),
    pytest.param(b"NaN", id="nan"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("data", GARBAGE_JSON)
@pytest.mark.parametrize(
    "make",
    [payload_pb2.SendEmailPayload, dict, lambda: Invoice(number=0, customer=""), lambda: None],
    ids=["proto", "dict", "attrs", "other"],
)
def test_json_decode_garbage_raises(data: bytes, make: Callable[[], Any]) -> None:
    returned: list[Any] = []
    with pytest.raises(CodecError, match="unmarshal json payload"):
        returned.append(JsonDurableCodec().decode(data, make))
    assert returned == []


@pytest.mark.parametrize(
    ("data", "make", "needle"),
    [
        pytest.param(b"[]", payload_pb2.SendEmailPayload, "expected a JSON object", id="proto-list"),
        pytest.param(b'{"bogus":1}', payload_pb2.SendEmailPayload, "bogus", id="proto-unknown-field"),
        pytest.param(b'{"to":5}', payload_pb2.SendEmailPayload, "to", id="proto-wrong-type"),
        pytest.param(b'["a"]', dict, "expected a JSON object", id="dict-list"),
        pytest.param(b'{"number":1}', lambda: Invoice(number=0, customer=""), "customer", id="attrs-missing"),
        pytest.param(
            b'{"number":1,"customer":"c","x":1}',
            lambda: Invoice(number=0, customer=""),
            "unknown fields",
            id="attrs-unknown",
        ),
        pytest.param(b'{"nope":1}', lambda: Reminder(title=""), "nope", id="dataclass-unknown"),
        pytest.param(b"3", lambda: Reminder(title=""), "expected a JSON object", id="dataclass-int"),
    ],
)
def test_json_decode_rejects_values_that_do_not_fit_the_template(
    data: bytes, make: Callable[[], Any], needle: str
) -> None:
    with pytest.raises(CodecError, match=needle):
        JsonDurableCodec().decode(data, make)


def test_json_decode_error_names_the_message_type() -> None:
    with pytest.raises(CodecError, match=r"worker\.v1\.SendEmailPayload"):
        JsonDurableCodec().decode(b"garbage", payload_pb2.SendEmailPayload)
