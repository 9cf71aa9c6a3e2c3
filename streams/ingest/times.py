"""Timestamps as telemetry writes them (RFC3339 strings, epoch numbers, OTLP nanoseconds), read into UTC."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def parse_rfc3339(text: object) -> datetime:
    """A strict RFC3339 time (offset required; nanoseconds are cut to microseconds), in UTC.

    Raises ValueError("not an RFC3339 time") for anything else.
    """
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise ValueError("not an RFC3339 time")
    try:
        return datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("not an RFC3339 time") from None


def from_epoch_number(number: float) -> datetime:
    """An epoch number in seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.

    Below 1e11 it is seconds (until the year 5138), below 1e14 milliseconds, below 1e17 microseconds,
    else nanoseconds. Fluent Bit writes float seconds, Vector and Go loggers often milliseconds or nanoseconds.
    """
    if isinstance(number, bool) or not math.isfinite(number):
        raise ValueError("not a finite epoch number")
    magnitude = abs(number)
    if magnitude < 1e11:
        micros = number * 1_000_000
    elif magnitude < 1e14:
        micros = number * 1_000
    elif magnitude < 1e17:
        micros = number
    else:
        micros = number / 1_000
    try:
        return EPOCH + timedelta(microseconds=round(micros))
    except OverflowError:
        raise ValueError("epoch number out of range") from None


def parse_event_time(value: object) -> datetime:
    """A log timestamp in any common form: RFC3339 / ISO 8601 (no offset means UTC), or an epoch number
    (also as a numeric string). Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError("expected a time, got a boolean")
    if isinstance(value, int | float):
        return from_epoch_number(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a time (RFC3339 string or epoch number), got {type(value).__name__}")
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return from_epoch_number(float(text) if "." in text else int(text))
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"not an RFC3339 time or epoch number: {text[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def from_unix_nanos(nanos: int) -> datetime:
    """OTLP fixed64 nanoseconds since the epoch, in UTC (kept to the microsecond)."""
    return EPOCH + timedelta(microseconds=nanos // 1000)
