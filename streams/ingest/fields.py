"""What every decoder shares about fields: the service name in a configured order, ids, and the field limit."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from streams.ingest.errors import IngestError

_HEX_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")
Record = TypeVar("Record", bound=BaseModel)


def resolve_service(sources: Mapping[str, Any], order: Sequence[str], what: str) -> str:
    """The first non-empty string among `sources[name]` for name in order, else IngestError naming them."""
    for name in order:
        value = sources.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise IngestError(f"no service: none of {what} {', '.join(order)}")


def normalize_trace_id(value: object) -> str | None:
    """A trace or span id from a label or log field: hex ids become lowercase; empty or all-zero means none.

    Other text is kept as written (it is an auxiliary field; the record is still readable).
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text or set(text) == {"0"}:
        return None
    return text.lower() if _HEX_ID.fullmatch(text) else text


def _check_text(name: str, text: str, limit: int) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise IngestError(f"field {name}: lone surrogate {text[exc.start]!r} is not valid Unicode") from None
    if size > limit:
        raise IngestError(f"field {name} is {size} bytes, over the {limit}-byte limit")


def _check(path: str, value: Any, limit: int) -> None:
    if isinstance(value, str):
        _check_text(f"'{path}'", value, limit)
    elif isinstance(value, BaseModel):
        for name, item in value:
            _check(f"{path}.{name}", item, limit)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(f"'{path}' key", key, limit)
            _check(f"{path}[{key[:60]!r}]", item, limit)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(f"{path}[{index}]", item, limit)


def check_fields(record: Record, limit: int) -> Record:
    """The record itself, or IngestError when one of its texts (at any depth: attributes, events, links) is longer
    than the limit or not valid Unicode.

    Over-long fields are rejected rather than truncated: a cut message would look complete downstream.
    """
    for name, value in record:
        _check(name, value, limit)
    return record
