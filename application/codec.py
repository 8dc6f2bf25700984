"""The default durable codec: protobuf binary, by the messages' own methods (go-worker's default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pyworker.domain import CodecError

__all__ = ["ProtoDurableCodec", "make_message", "message_type_name", "payload_bytes"]


def _is_message(value: object) -> bool:
    """A protobuf message, recognised by its interface: the application never imports
    ``google.protobuf`` (docs/architecture.md, import rules), and every generated
    message class has these three.
    """
    kind = type(value)
    return hasattr(kind, "DESCRIPTOR") and hasattr(kind, "SerializeToString") and hasattr(kind, "ParseFromString")


def message_type_name(value: object) -> str:
    """The protobuf full name of a message, else the Python qualified type name."""
    if _is_message(value):
        return str(getattr(type(value), "DESCRIPTOR").full_name)  # noqa: B009  # any message class
    return type(value).__qualname__


def make_message(make: Callable[[], Any], codec: str) -> Any:
    """Call the handler's message factory; its failure is reported as a CodecError."""
    try:
        return make()
    except Exception as exc:
        raise CodecError(f"{codec} codec: message factory failed: {exc!r}") from exc


def payload_bytes(data: object, codec: str) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise CodecError(f"{codec} codec: payload must be bytes, got {type(data).__qualname__}")


class ProtoDurableCodec:
    """Protobuf binary encoding, byte-compatible with go-worker's ProtoDurableCodec, and
    the codec a durable TaskManager uses when it is given none.

    Messages must be protobuf messages. Serialisation is deterministic (map entries
    sorted), so equal messages give equal bytes. Like any protobuf parser, decode
    accepts bytes of a *different* message type when they are well-formed (unknown
    fields are kept, known ones may be empty).
    """

    name: ClassVar[str] = "proto"

    def encode(self, message: Any) -> bytes:
        """Serialise ``message``.

        Raises:
            CodecError: ``message`` is not a protobuf message, or cannot be serialised.
        """
        if not _is_message(message):
            raise CodecError(f"marshal protobuf message: {message_type_name(message)} is not a protobuf message")
        try:
            data: bytes = message.SerializeToString(deterministic=True)
        except Exception as exc:  # google.protobuf.message.EncodeError, unset required fields
            raise CodecError(f"marshal protobuf message {message_type_name(message)}: {exc}") from exc
        return data

    def decode(self, data: bytes, make: Callable[[], Any]) -> Any:
        """Parse ``data`` into a fresh ``make()`` message and return it.

        Raises:
            CodecError: ``make()`` does not return a protobuf message, or ``data``
                is not a valid encoding of that message type.
        """
        message = make_message(make, "proto")
        if not _is_message(message):
            raise CodecError(
                f"unmarshal protobuf message: factory returned {message_type_name(message)}, not a protobuf message"
            )
        raw = payload_bytes(data, "proto")
        try:
            message.ParseFromString(raw)
        except Exception as exc:  # google.protobuf.message.DecodeError
            raise CodecError(f"unmarshal protobuf message {message_type_name(message)}: {exc}") from exc
        return message
