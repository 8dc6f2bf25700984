"""Durable payload codecs: protobuf binary (go-worker's ProtoDurableCodec) and JSON. Never pickle."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
from google.protobuf import json_format
from google.protobuf.message import DecodeError, EncodeError, Message

from pyworker.domain.errors import CodecError

__all__ = ["JsonDurableCodec", "ProtoDurableCodec"]


def _type_name(value: object) -> str:
    """The protobuf full name of a message, else the Python qualified type name."""
    if isinstance(value, Message):
        return value.DESCRIPTOR.full_name
    return type(value).__qualname__


def _make(make: Callable[[], Any], codec: str) -> Any:
    """Call the handler's message factory; its failure is reported as a CodecError."""
    try:
        return make()
    except Exception as exc:
        raise CodecError(f"{codec} codec: message factory failed: {exc!r}") from exc


def _as_bytes(data: object, codec: str) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise CodecError(f"{codec} codec: payload must be bytes, got {type(data).__qualname__}")


class ProtoDurableCodec:
    """Protobuf binary encoding, byte-compatible with go-worker's ProtoDurableCodec.

    Messages must be ``google.protobuf.message.Message`` instances. Serialisation
    is deterministic (map entries sorted), so equal messages give equal bytes.
    Like any protobuf parser, decode accepts bytes of a *different* message type
    when they are well-formed (unknown fields are kept, known ones may be empty).
    """

    name: ClassVar[str] = "proto"

    def encode(self, message: Any) -> bytes:
        """Serialise ``message``.

        Raises:
            CodecError: ``message`` is not a protobuf message, or cannot be serialised.
        """
        if not isinstance(message, Message):
            raise CodecError(
                f"marshal protobuf message: {_type_name(message)} is not a protobuf message"
            )
        try:
            return message.SerializeToString(deterministic=True)
        except EncodeError as exc:
            raise CodecError(f"marshal protobuf message {_type_name(message)}: {exc}") from exc

    def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
        """Parse ``data`` into a fresh ``make()`` message and return it.

        Raises:
            CodecError: ``make()`` does not return a protobuf message, or ``data``
                is not a valid encoding of that message type.
        """
        message = _make(make, "proto")
        if not isinstance(message, Message):
            raise CodecError(
                f"unmarshal protobuf message: factory returned {_type_name(message)}, "
                "not a protobuf message"
            )
        raw = _as_bytes(data, "proto")
        try:
            message.ParseFromString(raw)
        except DecodeError as exc:
            raise CodecError(f"unmarshal protobuf message {_type_name(message)}: {exc}") from exc
        return message


def _jsonable(value: object) -> Any:
    """``json.dumps`` hook: protobuf messages, attrs and dataclass instances become dicts."""
    if isinstance(value, Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if attrs.has(type(value)):
        return attrs.asdict(value)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__qualname__} is not JSON serialisable")


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


class JsonDurableCodec:
    """Compact UTF-8 JSON with sorted keys, for payloads that are not protobuf messages.

    Encodes protobuf messages (proto JSON mapping, proto field names), attrs and
    dataclass instances (as objects), and plain JSON values (mappings, lists,
    str, int, float, bool, None); nested attrs/dataclass/protobuf values too.
    Decode builds the value ``make()`` describes: a protobuf message, a dict, an
    attrs or dataclass instance (from the object's keys; nested values stay
    plain JSON), or for any other template the parsed JSON value itself.
    """

    name: ClassVar[str] = "json"

    def encode(self, message: Any) -> bytes:
        """Serialise ``message`` to compact, key-sorted JSON bytes.

        Raises:
            CodecError: the value (or something inside it) is not JSON serialisable,
                or holds NaN/Infinity.
        """
        try:
            text = json.dumps(
                message,
                default=_jsonable,
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
                allow_nan=False,
            )
        except (TypeError, ValueError, RecursionError, json_format.Error) as exc:
            raise CodecError(f"marshal json payload {_type_name(message)}: {exc}") from exc
        return text.encode("utf-8")

    def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
        """Parse ``data`` and shape it like the template ``make()`` returns.

        Raises:
            CodecError: ``data`` is not UTF-8 JSON, or does not fit the template
                (not an object, unknown or missing fields, wrong field types).
        """
        template = _make(make, "json")
        raw = _as_bytes(data, "json")
        kind = _type_name(template)
        try:
            parsed = _JSON_DECODER.decode(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CodecError(f"unmarshal json payload {kind}: {exc}") from exc

        if isinstance(template, Message):
            obj = _require_object(parsed, kind)
            try:
                json_format.ParseDict(obj, template)
            except json_format.ParseError as exc:
                raise CodecError(f"unmarshal json payload {kind}: {exc}") from exc
            return template
        if isinstance(template, dict):
            return _require_object(parsed, kind)
        if attrs.has(type(template)):
            return _build_attrs(type(template), _require_object(parsed, kind), kind)
        if dataclasses.is_dataclass(template) and not isinstance(template, type):
            obj = _require_object(parsed, kind)
            try:
                return type(template)(**obj)
            except (TypeError, ValueError) as exc:
                raise CodecError(f"unmarshal json payload {kind}: {exc}") from exc
        return parsed


#: Built once: json.loads with any keyword builds a new decoder per call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _require_object(parsed: Any, kind: str) -> dict[str, Any]:
    if not isinstance(parsed, dict):
        raise CodecError(
            f"unmarshal json payload {kind}: expected a JSON object, got {type(parsed).__name__}"
        )
    return parsed


def _build_attrs(cls: type[Any], obj: dict[str, Any], kind: str) -> Any:
    """Construct an attrs class from ``attrs.asdict`` output (field names, not init aliases)."""
    fields = {field.name: field for field in attrs.fields(cls)}
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise CodecError(f"unmarshal json payload {kind}: unknown fields {unknown}")
    kwargs = {fields[key].alias: value for key, value in obj.items() if fields[key].init}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"unmarshal json payload {kind}: {exc}") from exc
