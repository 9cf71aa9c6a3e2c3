"""A mined log line as the trace stage needs it: its event type, tied to the trace and span it was logged in.

The event type is where in the code the line was written, when the line says so (OpenTelemetry's code.*
attributes, or a logger field such as `logger` holding class and line): two statements that log the same words
are still two events, one statement whose words vary in length is still one, and a statement that stops running
is seen as missing. Without a code location, the event type is the template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streams.anomaly.records import LogEvent
from streams.logtemplates.miner import TemplateMatch
from streams.records import LogRecord


def code_location(attributes: Mapping[str, str], fields: Sequence[str]) -> str | None:
    """Where the line was logged, from the first fields present (joined with ':'), or None."""
    parts = [attributes[name].strip() for name in fields if attributes.get(name, "").strip()]
    return ":".join(parts)[:200] if parts else None


def log_event(record: LogRecord, match: TemplateMatch, fields: Sequence[str]) -> LogEvent | None:
    """The line as a LogEvent for the trace stage; None when it names no trace. `fields`: the attributes that
    say where in the code a line was written (settings `log_code_location_fields`)."""
    if not record.trace_id:
        return None
    where = code_location(record.attributes, fields)
    return LogEvent(trace_id=record.trace_id, span_id=record.span_id, service=record.service,
                    template_id=f"@{where}" if where else match.template_id,
                    template=f"{match.template} (at {where})" if where else match.template,
                    severity=record.severity, time=record.time)
