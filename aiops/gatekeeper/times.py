"""Times in the gatekeeper: epoch milliseconds in its ledger and timers, RFC3339 for OPA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime | int | float) -> int:
    """Epoch milliseconds from an aware datetime (fastavro's timestamp-millis) or a number of ms."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(round(value.timestamp() * 1000))
    return int(value)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds, exactly (no float rounding)."""
    return EPOCH + timedelta(milliseconds=ms)


def rfc3339(ms: int) -> str:
    """RFC3339 in UTC with millisecond precision, as OPA's time.parse_rfc3339_ns reads it."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: Any) -> int:
    """Epoch millis from a number of ms or an RFC3339 string (JSON approvals may carry either)."""
    if isinstance(value, bool):
        raise ValueError("time must be epoch milliseconds or an RFC3339 string")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        return to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise ValueError("time must be epoch milliseconds or an RFC3339 string")
