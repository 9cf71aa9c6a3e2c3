"""What the console keeps per output topic: the whole record, JSON-safe (times as RFC3339), in the feed's store."""

from __future__ import annotations

import math
from datetime import datetime
from enum import Enum
from typing import Any

from aiops.core.topics import DECISIONS, EXECUTIONS, INCIDENTS, OUTCOMES, PROPOSALS
from aiops.feed.views import Row, View, rfc3339
from streams.output_records import Decision, Execution, Incident, Outcome, Proposal


def plain(value: Any) -> Any:
    """A decoded Avro value as JSON data: datetimes as RFC3339 UTC, non-finite floats as None, containers copied."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def whole_record(record: Incident | Proposal | Decision | Execution | Outcome) -> Row:
    """The record as it is (the console renders nested evidence, so nothing is flattened)."""
    row: Row = plain(record.to_avro())
    return row


CONSOLE_VIEWS: tuple[View[Any], ...] = (
    View("incidents", INCIDENTS, Incident, whole_record, "updated_at", version_field="version"),
    View("proposals", PROPOSALS, Proposal, whole_record, "created_at"),
    View("decisions", DECISIONS, Decision, whole_record, "evaluated_at"),
    View("executions", EXECUTIONS, Execution, whole_record, "started_at"),
    View("outcomes", OUTCOMES, Outcome, whole_record, "decided_at"),
)
