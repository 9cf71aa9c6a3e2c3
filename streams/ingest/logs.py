"""JSON log lines on aiops.logs.raw, as Vector or Fluent Bit write them, read into canonical LogRecords.

Where each part of the record comes from is a list of candidate field paths per part (settings
`log_*_fields`); the first present one wins. A path is dotted for nesting (`kubernetes.container_name`),
and a key that itself holds dots (`service.name`, `app.kubernetes.io/name`) is matched as well.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiops.core.settings import Settings
from streams.ingest.errors import IngestError
from streams.ingest.fields import check_fields, normalize_trace_id
from streams.ingest.json_input import load_json_object
from streams.ingest.times import parse_event_time
from streams.ingest.validation import build
from streams.records import LogRecord, Severity, severity_from_text

SOURCE_VECTOR = "vector"
SOURCE_FLUENTBIT = "fluentbit"
SOURCE_JSON = "json"
# Nested objects are flattened into dotted attribute names this deep; deeper values are kept as JSON text.
_FLATTEN_DEPTH = 4
# Numeric levels: pino / bunyan (10..60) and syslog severities (0..7).
_NUMERIC_LEVELS = {
    10: Severity.info, 20: Severity.info, 30: Severity.info, 40: Severity.warning, 50: Severity.error,
    60: Severity.critical,
    0: Severity.critical, 1: Severity.critical, 2: Severity.critical, 3: Severity.error, 4: Severity.warning,
    5: Severity.info, 6: Severity.info, 7: Severity.info,
}


def _lookup(document: Any, parts: list[str]) -> tuple[list[str], Any] | None:
    # Longest literal key first, so "service.name" matches a flat key before a nested path.
    if not isinstance(document, dict):
        return None
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in document:
            if cut == len(parts):
                return [key], document[key]
            found = _lookup(document[key], parts[cut:])
            if found is not None:
                return [key, *found[0]], found[1]
    return None


def find_field(document: dict[str, Any], candidates: Sequence[str]) -> tuple[str, Any] | None:
    """The first candidate path present with a non-null value: (the path as found, the value)."""
    for candidate in candidates:
        found = _lookup(document, candidate.split("."))
        if found is not None and found[1] is not None:
            return ".".join(found[0]), found[1]
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _flatten(document: dict[str, Any], prefix: str, depth: int, skip: set[str], out: dict[str, str]) -> None:
    for key, value in document.items():
        path = f"{prefix}{key}"
        if path in skip:
            continue
        if isinstance(value, dict) and value and depth < _FLATTEN_DEPTH:
            _flatten(value, f"{path}.", depth + 1, skip, out)
        else:
            out[path] = _text(value)


def _level(value: Any) -> tuple[str, Severity]:
    if isinstance(value, int) and not isinstance(value, bool) and value in _NUMERIC_LEVELS:
        return str(value), _NUMERIC_LEVELS[value]
    text = _text(value)
    return text, severity_from_text(text)


def _source(document: dict[str, Any]) -> str:
    if "source_type" in document:  # Vector adds it to every event
        return SOURCE_VECTOR
    for key in ("@timestamp", "date"):  # Fluent Bit's timestamp keys, written as float seconds
        if isinstance(document.get(key), float | int) and not isinstance(document.get(key), bool):
            return SOURCE_FLUENTBIT
    return SOURCE_JSON


def decode_log_line(value: bytes | None, settings: Settings, now: datetime | None = None) -> LogRecord:
    """One JSON log line into a canonical LogRecord, or IngestError with the reason.

    The event time is kept (UTC); a line without a timestamp field gets the observed time (now).
    """
    now = now or datetime.now(UTC)
    document = load_json_object(value, settings.ingest_max_message_bytes)
    used: set[str] = set()

    message = find_field(document, settings.log_message_fields)
    if message is None:
        raise IngestError(f"field 'message' missing (looked for {', '.join(settings.log_message_fields)})")
    used.add(message[0])

    event_time = now
    timestamp = find_field(document, settings.log_timestamp_fields)
    if timestamp is not None:
        try:
            event_time = parse_event_time(timestamp[1])
        except ValueError as exc:
            raise IngestError(f"field '{timestamp[0]}': {exc}") from None
        used.add(timestamp[0])

    level, severity = "", Severity.unknown
    found_level = find_field(document, settings.log_level_fields)
    if found_level is not None:
        level, severity = _level(found_level[1])
        used.add(found_level[0])

    service = None
    for candidate in settings.log_service_fields:
        found = find_field(document, [candidate])
        if found is not None and isinstance(found[1], str) and found[1].strip():
            service = found[1].strip()
            used.add(found[0])
            break
    if service is None:
        raise IngestError(f"no service: none of fields {', '.join(settings.log_service_fields)}")

    ids: dict[str, str | None] = {}
    for name, candidates in (("trace_id", settings.log_trace_id_fields), ("span_id", settings.log_span_id_fields)):
        found = find_field(document, candidates)
        ids[name] = normalize_trace_id(_text(found[1])) if found is not None else None
        if found is not None:
            used.add(found[0])

    attributes: dict[str, str] = {}
    _flatten(document, "", 0, used, attributes)
    record = build(
        LogRecord, time=event_time, observed_time=now, service=service, severity=severity, level=level,
        message=_text(message[1]), trace_id=ids["trace_id"], span_id=ids["span_id"], attributes=attributes,
        source=_source(document),
    )
    return check_fields(record, settings.ingest_max_field_bytes)
