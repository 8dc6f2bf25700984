"""Durable payload codecs: JSON here, and protobuf binary (the default) from the application. Never pickle.

``ProtoDurableCodec`` lives in ``pyworker.application.codec`` because it is the codec a
durable TaskManager falls back to, and the application may not import an adapter; it is
re-exported here so that both codecs are found in one place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
from google.protobuf.message import Message

from pyworker.application.codec import ProtoDurableCodec, make_message, message_type_name, payload_bytes
from pyworker.domain.errors import CodecError

__all__ = ["JsonDurableCodec", "ProtoDurableCodec"]


def _jsonable(value: object) -> Any:
    """``json.dumps`` hook: protobuf messages, attrs and dataclass instances become dicts."""
    if isinstance(value, Message):
        # Imported here: json_format (descriptor pools, ~3 MiB) only serves protobuf payloads,
        # and a worker whose payloads are plain JSON never loads it (docs/adr/0017).
        from google.protobuf import json_format

        try:
            return json_format.MessageToDict(value, preserving_proto_field_name=True)
        except json_format.Error as exc:
            raise ValueError(str(exc)) from exc
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
        except (TypeError, ValueError, RecursionError) as exc:
            raise CodecError(f"marshal json payload {message_type_name(message)}: {exc}") from exc
        return text.encode("utf-8")

    def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
        """Parse ``data`` and shape it like the template ``make()`` returns.

        Raises:
            CodecError: ``data`` is not UTF-8 JSON, or does not fit the template
                (not an object, unknown or missing fields, wrong field types).
        """
        template = make_message(make, "json")
        raw = data if type(data) is bytes else payload_bytes(data, "json")
        try:
            text = raw.decode("utf-8")
            try:  # the common case: no surrounding whitespace, one value (no regex passes)
                parsed, end = _JSON_DECODER.raw_decode(text)
            except ValueError:
                end = -1
            if end != len(text):  # anything else: the full parser decides (and names the error)
                parsed = _JSON_DECODER.decode(text)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CodecError(f"unmarshal json payload {message_type_name(template)}: {exc}") from exc
        if type(template) is dict:  # the common case first: no type name unless it fails
            return _require_object(parsed, template)
        if isinstance(template, Message):
            from google.protobuf import json_format  # see _jsonable

            obj = _require_object(parsed, template)
            try:
                json_format.ParseDict(obj, template)
            except json_format.ParseError as exc:
                raise CodecError(f"unmarshal json payload {message_type_name(template)}: {exc}") from exc
            return template
        if isinstance(template, dict):
            return _require_object(parsed, template)
        if attrs.has(type(template)):
            return _build_attrs(type(template), _require_object(parsed, template), message_type_name(template))
        if dataclasses.is_dataclass(template) and not isinstance(template, type):
            obj = _require_object(parsed, template)
            try:
                return type(template)(**obj)
            except (TypeError, ValueError) as exc:
                raise CodecError(f"unmarshal json payload {message_type_name(template)}: {exc}") from exc
        return parsed


#: Built once: json.loads with any keyword builds a new decoder per call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _require_object(parsed: Any, template: object) -> dict[str, Any]:
    if not isinstance(parsed, dict):
        raise CodecError(
            f"unmarshal json payload {message_type_name(template)}: expected a JSON object, "
            f"got {type(parsed).__name__}"
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
