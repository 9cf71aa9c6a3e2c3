"""A mined line as the trace stage sees it: its event type is its code location when it has one."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.core.settings import Settings
from streams.logtemplates.events import code_location, log_event
from streams.logtemplates.miner import TemplateMatch
from streams.records import LogRecord, Severity

FIELDS = Settings().log_code_location_fields
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def record(attributes: dict[str, str], trace: str | None = "ab" * 16) -> LogRecord:
    return LogRecord(time=NOW, observed_time=NOW, service="orders-api", severity=Severity.info, level="info",
                     message="order 42 created", trace_id=trace, span_id="cd" * 8, attributes=attributes,
                     source="test")


MATCH = TemplateMatch(template_id="7", template="order <NUM> created", change_type="none")


def test_two_statements_with_the_same_words_are_two_event_types():
    first = log_event(record({"logger": "OrderService#57"}), MATCH, FIELDS)
    second = log_event(record({"logger": "OrderService#63"}), MATCH, FIELDS)
    assert first.template_id == "@OrderService#57" and second.template_id == "@OrderService#63"
    assert first.template == "order <NUM> created (at OrderService#57)"


def test_opentelemetry_code_attributes_make_the_location():
    assert code_location({"code.function": "create", "code.lineno": "57"}, FIELDS) == "create:57"


def test_without_a_location_the_template_is_the_event_type_and_without_a_trace_there_is_none():
    assert log_event(record({}), MATCH, FIELDS).template_id == "7"
    assert log_event(record({}, trace=None), MATCH, FIELDS) is None
