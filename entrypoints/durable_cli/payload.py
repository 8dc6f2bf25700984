"""`workerctl durable enqueue`'s input rules: one payload source, its format, the id, the time, the metadata.

The checks run in go-worker's order with its messages (docs/workerctl.md "enqueue"),
before anything connects; each failure is a usage error.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import click
import yaml

SOURCES = "use exactly one of --payload, --payload-file, --payload-b64, or --payload-b64-file"


def read_source(path: str) -> bytes:
    """A file's bytes; ``-`` is stdin."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise click.UsageError(f"read payload file {path!r}: {exc.strerror or exc}") from exc


def payload_bytes(
    payload: str | None, payload_file: str | None, payload_b64: str | None, payload_b64_file: str | None,
    payload_format: str | None,
) -> bytes:
    """The payload bytes the flags give: JSON byte for byte, YAML as compact JSON (keys sorted), base64 decoded."""
    given = [source for source in (payload, payload_file, payload_b64, payload_b64_file) if source is not None]
    if len(given) != 1:
        raise click.UsageError(SOURCES)
    if payload_b64 is not None or payload_b64_file is not None:
        if payload_format is not None:
            raise click.UsageError("payload format is not applicable with base64 payloads")
        text = payload_b64.encode() if payload_b64 is not None else read_source(str(payload_b64_file))
        compact = b"".join(text.split())
        if not compact:
            raise click.UsageError("base64 payload is empty")
        try:
            return base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise click.UsageError(f"decode base64 payload: {exc}") from exc
    fmt = (payload_format or "").strip().lower()
    if payload_format is not None and fmt not in ("json", "yaml"):
        raise click.UsageError("payload format must be json or yaml")
    if payload is not None:
        data, fmt = payload.encode(), fmt or "json"
    else:
        path = str(payload_file)
        data = read_source(path)
        fmt = fmt or ("yaml" if path.lower().endswith((".yaml", ".yml")) else "json")
    if fmt == "yaml":
        try:
            value: Any = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise click.UsageError(f"payload is not valid YAML: {one_line_yaml(exc)}") from exc
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    try:
        json.loads(data)
    except ValueError as exc:
        raise click.UsageError("payload is not valid JSON") from exc
    return data


def one_line_yaml(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


def task_id(text: str | None) -> uuid.UUID:
    if text is None or not text.strip():
        return uuid.uuid4()
    try:
        return uuid.UUID(text.strip())
    except ValueError as exc:
        raise click.UsageError(f"parse task id: invalid UUID {text.strip()!r}") from exc


def run_at(text: str | None, delay: float, now: float) -> float | None:
    """When the task may first run: ``--run-at`` (RFC 3339), now + ``--delay``, or None (at once)."""
    if text is not None and delay > 0:
        raise click.UsageError("use only one of --run-at or --delay")
    if text is not None:
        try:
            moment = datetime.datetime.fromisoformat(text.strip().replace("z", "Z"))
        except ValueError as exc:
            raise click.UsageError(f"parse run-at: {text.strip()!r} is not an RFC 3339 time") from exc
        if moment.tzinfo is None:
            raise click.UsageError(f"parse run-at: {text.strip()!r} has no time zone (add Z or +hh:mm)")
        return moment.timestamp()
    return now + delay if delay > 0 else None


def metadata(entries: Sequence[str]) -> dict[str, str]:
    """``--meta k=v`` entries: trimmed, blank ones skipped, split at the first ``=``."""
    parsed: dict[str, str] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep:
            raise click.UsageError("metadata must be key=value")
        if not key.strip():
            raise click.UsageError("metadata key is required")
        parsed[key.strip()] = value.strip()
    return parsed
