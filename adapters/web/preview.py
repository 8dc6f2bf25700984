"""A safe preview of a task's payload bytes: text when they decode as UTF-8, else a hex dump; always cut short."""

from __future__ import annotations

import attrs

#: Characters of text shown; bytes of a binary payload shown as hex.
TEXT_LIMIT = 2048
HEX_LIMIT = 256


@attrs.frozen
class PayloadPreview:
    """``kind`` is "text", "hex" or "empty"; ``text`` is plain text (the template escapes it)."""

    kind: str
    text: str
    size: int
    truncated: bool


def preview(payload: bytes) -> PayloadPreview:
    """The first TEXT_LIMIT characters of a printable UTF-8 payload, or a hex dump of its first HEX_LIMIT bytes."""
    if not payload:
        return PayloadPreview("empty", "", 0, False)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ch.isprintable() or ch in "\n\r\t" for ch in text[:TEXT_LIMIT]):
        return PayloadPreview("text", text[:TEXT_LIMIT], len(payload), len(text) > TEXT_LIMIT)
    return PayloadPreview("hex", hex_dump(payload[:HEX_LIMIT]), len(payload), len(payload) > HEX_LIMIT)


def hex_dump(data: bytes) -> str:
    """16 bytes a line: the offset, the bytes in hex, and the printable ASCII ones ("." for the rest)."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        shown = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {shown}")
    return "\n".join(lines)
