"""JSON log lines as Vector and Fluent Bit write them, through the configurable field mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiops.core.settings import Settings
from streams.ingest import IngestError, decode_log_line
from streams.ingest.times import from_epoch_number, parse_event_time, parse_rfc3339
from streams.records import Severity
from tests.streams.ingest import samples
from tests.streams.ingest.samples import to_json_bytes

SETTINGS = Settings()
NOW = datetime(2026, 11, 26, 10, 0, 9, tzinfo=UTC)


def decode(document, settings=SETTINGS):
    value = document if document is None or isinstance(document, bytes) else to_json_bytes(document)
    return decode_log_line(value, settings, now=NOW)


def reason(document, settings=SETTINGS) -> str:
    with pytest.raises(IngestError) as caught:
        decode(document, settings)
    return caught.value.reason


def test_vector_kubernetes_line():
    record = decode(samples.vector_line())
    assert record.source == "vector" and record.service == "orders-api"  # kubernetes.pod_labels.app
    assert record.message == "timeout acquiring connection from pool after 30000ms"
    assert record.time == datetime(2026, 11, 26, 10, 0, 1, 123456, tzinfo=UTC) and record.observed_time == NOW
    assert record.level == "ERROR" and record.severity is Severity.error
    assert record.trace_id == samples.TRACE_ID and record.span_id is None
    assert record.attributes["kubernetes.pod_name"] == "orders-api-7d9f-x2"
    assert record.attributes["stream"] == "stdout"
    assert "message" not in record.attributes and "kubernetes.pod_labels.app" not in record.attributes


def test_fluent_bit_line_with_float_seconds_and_dotted_label_key():
    record = decode(samples.fluentbit_line())
    assert record.source == "fluentbit"
    assert record.service == "cart"  # kubernetes.labels."app.kubernetes.io/name"
    assert record.time == datetime(2026, 11, 26, 10, 0, 1, 250000, tzinfo=UTC)
    assert record.message == "GET /cart 503 upstream timeout\n"
    assert record.severity is Severity.warning and record.level == "warn"
    assert record.attributes["kubernetes.container_name"] == "cart"


def test_fluent_bit_date_key_and_plain_json_line():
    record = decode({"date": 1795687201.5, "msg": "ready", "service": "web", "lvl": "info"})
    assert record.source == "fluentbit" and record.time == datetime(2026, 11, 26, 10, 0, 1, 500000, tzinfo=UTC)
    plain = decode({"ts": "2026-11-26 10:00:02", "msg": "ok", "app": "web"})
    assert plain.source == "json" and plain.time == datetime(2026, 11, 26, 10, 0, 2, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-26T10:00:01Z", datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)),
    ("2026-11-26T11:00:01.5+01:00", datetime(2026, 11, 26, 10, 0, 1, 500000, tzinfo=UTC)),
    ("2026-11-26T10:00:01.123456789Z", datetime(2026, 11, 26, 10, 0, 1, 123456, tzinfo=UTC)),
    ("2026-11-26T10:00:01", datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)),  # no offset: UTC
    (1795687201, datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)),  # seconds
    (1795687201.25, datetime(2026, 11, 26, 10, 0, 1, 250000, tzinfo=UTC)),
    (1795687201250, datetime(2026, 11, 26, 10, 0, 1, 250000, tzinfo=UTC)),  # milliseconds
    (1795687201250001, datetime(2026, 11, 26, 10, 0, 1, 250001, tzinfo=UTC)),  # microseconds
    (1795687201250001999, datetime(2026, 11, 26, 10, 0, 1, 250002, tzinfo=UTC)),  # nanoseconds
    ("1795687201250", datetime(2026, 11, 26, 10, 0, 1, 250000, tzinfo=UTC)),  # numeric string
])
def test_timestamp_forms(value, expected):
    assert parse_event_time(value) == expected
    assert decode({"timestamp": value, "message": "m", "service": "s"}).time == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("yesterday", "field 'timestamp': not an RFC3339 time or epoch number: 'yesterday'"),
    (True, "field 'timestamp': expected a time, got a boolean"),
    ([1], "field 'timestamp': expected a time (RFC3339 string or epoch number), got list"),
    (1e300, "field 'timestamp': epoch number out of range"),
])
def test_bad_timestamps(value, expected):
    assert reason({"timestamp": value, "message": "m", "service": "s"}) == expected


def test_rfc3339_is_strict_where_alertmanager_promises_it():
    assert parse_rfc3339("2026-11-26T10:00:00.5-02:00") == datetime(2026, 11, 26, 12, 0, 0, 500000, tzinfo=UTC)
    for text in ("2026-11-26T10:00:00", "2026-11-26", "20261126T100000Z", 1795687200, "2026-13-01T00:00:00Z"):
        with pytest.raises(ValueError, match="not an RFC3339 time"):
            parse_rfc3339(text)
    with pytest.raises(ValueError):
        from_epoch_number(float("nan"))


def test_missing_timestamp_takes_the_observed_time():
    assert decode({"message": "m", "service": "s"}).time == NOW


def test_missing_message_and_service_say_what_was_looked_for():
    assert reason({"text": "m", "service": "s"}) == "field 'message' missing (looked for message, msg, log)"
    assert reason({"message": "m", "host": "h"}).startswith(
        "no service: none of fields service, service.name, service_name, kubernetes.labels.app.kubernetes.io/name")


def test_service_order_and_nested_or_flat_dotted_keys():
    assert decode({"message": "m", "service.name": "flat", "app": "a"}).service == "flat"
    assert decode({"message": "m", "service": {"name": "nested"}, "app": "a"}).service == "nested"
    assert decode({"message": "m", "service": "", "app": "a"}).service == "a"
    assert decode({"message": "m", "service": 3, "app": "a"}).service == "a"  # only text names a service


def test_field_mapping_is_configurable_including_from_the_environment(monkeypatch):
    monkeypatch.setenv("AIOPS_LOG_MESSAGE_FIELDS", "event.original, body")
    monkeypatch.setenv("AIOPS_LOG_SERVICE_FIELDS", '["resource.service"]')
    monkeypatch.setenv("AIOPS_LOG_LEVEL_FIELDS", "sev")
    monkeypatch.setenv("AIOPS_LOG_TIMESTAMP_FIELDS", "at")
    monkeypatch.setenv("AIOPS_LOG_TRACE_ID_FIELDS", "ctx.trace")
    settings = Settings()
    record = decode({"event": {"original": "boom"}, "resource": {"service": "svc"}, "sev": "FATAL",
                     "at": 1795687201000, "ctx": {"trace": samples.TRACE_ID}, "message": "ignored"}, settings)
    assert (record.message, record.service, record.severity) == ("boom", "svc", Severity.critical)
    assert record.time == datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC) and record.trace_id == samples.TRACE_ID
    assert record.attributes["message"] == "ignored"


@pytest.mark.parametrize(("level", "severity"), [
    ("ERROR", Severity.error), ("Warning", Severity.warning), ("debug", Severity.info), ("FATAL", Severity.critical),
    (50, Severity.error), (30, Severity.info), (60, Severity.critical), (3, Severity.error),
    ("chatty", Severity.unknown),
])
def test_levels_onto_one_scale(level, severity):
    record = decode({"message": "m", "service": "s", "level": level})
    assert record.severity is severity and record.level == str(level)


def test_structured_message_and_attribute_values_become_text():
    record = decode({"message": {"event": "login", "ok": True}, "service": "s", "n": 3, "flag": False,
                     "nested": {"a": {"b": {"c": {"d": {"e": 1}}}}}, "list": [1, "x"], "none": None})
    assert record.message == '{"event":"login","ok":true}'
    assert record.attributes == {"n": "3", "flag": "false", "nested.a.b.c.d": '{"e":1}', "list": '[1,"x"]',
                                 "none": ""}


def test_span_id_and_zero_trace_id():
    record = decode({"message": "m", "service": "s", "trace_id": "0" * 32, "spanId": samples.SPAN_ID.upper()})
    assert record.trace_id is None and record.span_id == samples.SPAN_ID


@pytest.mark.parametrize(("value", "expected"), [
    (b'{"message": "m", "service": "s"', "invalid JSON at line 1 column 32: Expecting ',' delimiter"),
    (b'{"message": "\xc3\x28", "service": "s"}', "invalid UTF-8 at byte 13"),
    (b'"just a string"', "expected a JSON object, got string"),
    (b"   ", "empty message"),
    (b'{"message": "m", "service": "s", "ts": 1' + b"0" * 5000 + b"}",
     "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5001 digits; "
     "use sys.set_int_max_str_digits() to increase the limit"),
])
def test_unreadable_lines(value, expected):
    assert reason(value) == expected


def test_limits():
    settings = Settings(ingest_max_message_bytes=2048, ingest_max_field_bytes=256)
    assert reason({"message": "x" * 257, "service": "s"}, settings) == \
        "field 'message' is 257 bytes, over the 256-byte limit"
    assert reason({"message": "m", "service": "s", "blob": "y" * 300}, settings) == \
        "field 'attributes['blob']' is 300 bytes, over the 256-byte limit"
    assert reason({"message": "m", "service": "s", "blob": "y" * 3000}, settings).endswith(
        "bytes is over the 2048-byte limit")
