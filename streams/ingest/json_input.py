"""One Kafka value or HTTP body read as JSON: bounded in size and nesting, with the reason when it is not."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from streams.ingest.errors import IngestError

# Deeper than any real alert, log line or OTLP/JSON request (OTLP/JSON reaches about 12 levels).
MAX_JSON_DEPTH = 64


def json_type(value: object) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_message_size(data: bytes | None, max_bytes: int) -> bytes:
    """The value itself, or IngestError when it is null or larger than the limit."""
    if data is None:
        raise IngestError("empty message (null value)")
    if len(data) > max_bytes:
        raise IngestError(f"message of {len(data)} bytes is over the {max_bytes}-byte limit")
    return data


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"invalid UTF-8 at byte {exc.start}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def load_json(data: bytes | None, max_bytes: int) -> Any:
    """Parse a message as JSON (UTF-8, no NaN/Infinity, at most MAX_JSON_DEPTH levels deep)."""
    text = decode_utf8(check_message_size(data, max_bytes))
    if not text.strip():
        raise IngestError("empty message")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise IngestError(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with too many digits
        raise IngestError(f"invalid JSON: {exc}") from None
    if _too_deep(value, MAX_JSON_DEPTH):
        raise IngestError(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def load_json_object(data: bytes | None, max_bytes: int) -> dict[str, Any]:
    """Parse a message that must be one JSON object."""
    value = load_json(data, max_bytes)
    if not isinstance(value, dict):
        raise IngestError(f"expected a JSON object, got {json_type(value)}")
    return value
