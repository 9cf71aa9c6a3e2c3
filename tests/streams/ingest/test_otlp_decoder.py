"""OTLP on otlp_spans / otlp_logs, as the Collector's Kafka exporter writes it: otlp_proto and otlp_json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from aiops.core.settings import Settings
from streams.ingest import IngestError, decode_logs, decode_spans
from streams.ingest.otlp import any_value_text, detect_encoding, to_otlp_json
from streams.records import Severity, SpanKind
from tests.streams.ingest import samples

SETTINGS = Settings()
NOW = datetime(2026, 11, 26, 10, 0, 9, tzinfo=UTC)

# OTLP/JSON as the Collector writes it (the shape of opentelemetry-proto's examples/trace.json):
# hex ids, camelCase, int64 as strings, enums as integers.
COLLECTOR_TRACE_JSON = b"""
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
 "scopeSpans":[{"scope":{"name":"io.opentelemetry.servlet","version":"1.0.0"},
  "spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "parentSpanId":"EEE19B7EC3C1B173","name":"SELECT orders","kind":3,
            "startTimeUnixNano":"1795687200000000000","endTimeUnixNano":"1795687200250000000",
            "attributes":[{"key":"db.system","value":{"stringValue":"postgresql"}},
                          {"key":"db.name","value":{"stringValue":"orders"}},
                          {"key":"rows","value":{"intValue":"42"}}],
            "status":{"code":2,"message":"deadlock detected"},
            "links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175"}]}]}]}]}
"""

COLLECTOR_LOGS_JSON = b"""
{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},
 "scopeLogs":[{"scope":{"name":"my.library"},
  "logRecords":[{"timeUnixNano":"1795687200000000000","observedTimeUnixNano":"1795687201000000000",
                 "severityNumber":13,"severityText":"Warning",
                 "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
                 "body":{"stringValue":"provider slow"},
                 "attributes":[{"key":"retry","value":{"boolValue":true}}]},
                {"timeUnixNano":"0","observedTimeUnixNano":"1795687201000000000",
                 "body":{"kvlistValue":{"values":[{"key":"k","value":{"doubleValue":1.5}}]}}}]}]}]}
"""


SPAN0 = "resourceSpans[0].scopeSpans[0].spans[0] (service orders-api)"
LOG0 = "resourceLogs[0].scopeLogs[0].logRecords[0] (service orders-api)"


def _reason(decode) -> str:
    """Why a message, or (when the message could be read) its first record, was refused."""
    try:
        decoded = decode()
    except IngestError as exc:
        return exc.reason
    assert decoded.rejected, f"nothing was refused: {decoded}"
    return decoded.rejected[0].describe()


def spans_reason(value, settings=SETTINGS) -> str:
    return _reason(lambda: decode_spans(value, settings))


def logs_reason(value, settings=SETTINGS) -> str:
    return _reason(lambda: decode_logs(value, settings, now=NOW))


def test_collector_otlp_json_spans():
    [span] = decode_spans(COLLECTOR_TRACE_JSON, SETTINGS)
    assert span.trace_id == "5b8efff798038103d269b633813fc60c" and span.span_id == "eee19b7ec3c1b174"
    assert span.parent_span_id == "eee19b7ec3c1b173"
    assert span.service == "checkout" and span.name == "SELECT orders" and span.kind is SpanKind.client
    assert span.start_time == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert span.end_time - span.start_time == timedelta(milliseconds=250) and span.duration_ms == 250.0
    assert (span.status, span.status_message) == ("error", "deadlock detected")
    assert span.peer_service == "orders"  # db.name on a client span
    assert span.attributes == {"db.system": "postgresql", "db.name": "orders", "rows": "42"}


def test_collector_otlp_json_logs():
    first, second = decode_logs(COLLECTOR_LOGS_JSON, SETTINGS, now=NOW)
    assert first.service == "payments" and first.source == "otlp"
    assert first.time == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert first.observed_time == datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)
    assert (first.severity, first.level) == (Severity.warning, "Warning")
    assert first.trace_id == "5b8efff798038103d269b633813fc60c" and first.span_id == "eee19b7ec3c1b174"
    assert first.message == "provider slow" and first.attributes == {"retry": "true"}
    # No event time: the observed time stands in; no severity at all: unknown; a map body as JSON.
    assert second.time == second.observed_time == datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC)
    assert (second.severity, second.level) == (Severity.unknown, "")
    assert second.message == '{"k":1.5}' and second.trace_id is None and second.span_id is None


def test_proto_and_json_encodings_decode_to_the_same_records():
    request = samples.trace_request(
        samples.otlp_span(),
        samples.otlp_span("charge", span_id="1111111111111111", parent_span_id=samples.SPAN_ID,
                          kind=OtlpSpan.SPAN_KIND_CLIENT, status=Status.STATUS_CODE_ERROR, message="timeout",
                          attributes={"peer.service": "acmepay", "server.address": "api.acmepay.example"}))
    from_proto = decode_spans(request.SerializeToString(), SETTINGS)
    from_json = decode_spans(to_otlp_json(request), SETTINGS)
    assert from_proto == from_json and len(from_proto) == 2
    assert from_proto[1].peer_service == "acmepay" and from_proto[1].status == "error"
    logs = samples.logs_request("a", "b", attributes={"http.status_code": 503})
    assert decode_logs(logs.SerializeToString(), SETTINGS, now=NOW) == decode_logs(to_otlp_json(logs), SETTINGS,
                                                                                  now=NOW)


def test_otlp_json_written_with_hex_ids_and_integer_enums():
    request = samples.trace_request(samples.otlp_span(kind=OtlpSpan.SPAN_KIND_CLIENT))
    document = json.loads(to_otlp_json(request))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == samples.TRACE_ID and span["spanId"] == samples.SPAN_ID
    assert span["kind"] == 3 and span["startTimeUnixNano"] == str(samples.T0_NANOS)


@pytest.mark.parametrize(("attributes", "kind", "peer"), [
    ({"peer.service": "ledger", "server.address": "10.0.0.1"}, OtlpSpan.SPAN_KIND_SERVER, "ledger"),
    ({"server.address": "inventory-api"}, OtlpSpan.SPAN_KIND_CLIENT, "inventory-api"),
    ({"net.peer.name": "cart-redis"}, OtlpSpan.SPAN_KIND_CLIENT, "cart-redis"),
    ({"db.system": "redis"}, OtlpSpan.SPAN_KIND_CLIENT, "redis"),
    ({"server.address": "orders-api"}, OtlpSpan.SPAN_KIND_SERVER, None),  # a server's own address
])
def test_peer_service(attributes, kind, peer):
    request = samples.trace_request(samples.otlp_span(kind=kind, attributes=attributes))
    assert decode_spans(request.SerializeToString(), SETTINGS)[0].peer_service == peer


def test_service_from_resource_service_name_then_labels():
    request = samples.trace_request(service="", resource={"job": "batch", "app": "x"})
    assert decode_spans(request.SerializeToString(), SETTINGS)[0].service == "batch"
    request = samples.trace_request(service="", resource={"host.name": "h"})
    assert spans_reason(request.SerializeToString()) == \
        "resourceSpans[0]: no service: none of resource attributes service.name, service, job, app"


@pytest.mark.parametrize(("number", "text", "severity", "level"), [
    (SeverityNumber.SEVERITY_NUMBER_FATAL, "", Severity.critical, "FATAL"),
    (SeverityNumber.SEVERITY_NUMBER_ERROR2, "", Severity.error, "ERROR2"),
    (SeverityNumber.SEVERITY_NUMBER_WARN, "WARNING", Severity.warning, "WARNING"),
    (SeverityNumber.SEVERITY_NUMBER_DEBUG, "", Severity.info, "DEBUG"),
    (SeverityNumber.SEVERITY_NUMBER_UNSPECIFIED, "error", Severity.error, "error"),
    (99, "info", Severity.info, "info"),  # out of range: the text decides
])
def test_log_severity_number_or_text(number, text, severity, level):
    request = samples.logs_request(severity=number, severity_text=text)
    [record] = decode_logs(request.SerializeToString(), SETTINGS, now=NOW)
    assert (record.severity, record.level) == (severity, level)


def test_any_value_text():
    value = AnyValue()
    value.array_value.values.add().int_value = 1
    value.array_value.values.add().bytes_value = b"\x00\x01"
    value.array_value.values.add().bool_value = False
    assert any_value_text(value) == '[1,"AAE=",false]'
    assert any_value_text(AnyValue()) == ""
    assert any_value_text(AnyValue(double_value=0.5)) == "0.5"


def test_protobuf_whose_first_length_byte_is_a_brace_is_not_taken_for_json():
    for size in range(0, 120):  # some first resource is 123 bytes long: 0a 7b ... looks like "\n{"
        request = samples.trace_request(samples.otlp_span(name="n" * size))
        data = request.SerializeToString()
        if data[:2] == b"\n{":
            break
    assert data[:2] == b"\n{" and detect_encoding(data) == "otlp_json"
    assert decode_spans(data, SETTINGS) == decode_spans(to_otlp_json(request), SETTINGS)
    assert decode_spans(b"\n" + to_otlp_json(request), SETTINGS)  # JSON after a newline still reads as JSON


def test_encoding_detection_and_setting():
    assert detect_encoding(b' \n\t{"resourceSpans":[]}') == "otlp_json"
    assert detect_encoding(b"\x0a\x02") == "otlp_proto"
    proto = samples.trace_request().SerializeToString()
    forced = Settings(otlp_encoding="otlp_json")
    assert spans_reason(proto, forced).startswith("invalid UTF-8") or "JSON" in spans_reason(proto, forced)
    assert decode_spans(to_otlp_json(samples.trace_request()), Settings(otlp_encoding="otlp_json"))


def test_unreadable_span_messages_have_a_reason():
    good = samples.trace_request().SerializeToString()
    assert spans_reason(good[:-3]) == \
        "not an OTLP ExportTraceServiceRequest: protobuf parse error (Wire format was corrupt)"
    assert spans_reason(b"") == "ExportTraceServiceRequest holds no spans"
    assert spans_reason(b"{}") == "ExportTraceServiceRequest holds no spans"
    assert spans_reason(None) == "empty message (null value)"
    assert spans_reason(samples.trace_request(samples.otlp_span(name="XXXX")).SerializeToString()
                        .replace(b"XXXX", b"\xff\xfe\xfd\xfc")).startswith("not an OTLP ExportTraceServiceRequest")
    # Span.attributes (field 9) holding a value nested past protobuf's limit of 100 messages.
    deep_value = samples.nested_any_value_bytes(40)
    deep_attribute = samples.pb_field(9, samples.pb_field(1, b"deep") + samples.pb_field(2, deep_value))
    deep = samples.trace_request_bytes_with_raw_span_fields(deep_attribute)
    assert decode_spans(samples.trace_request_bytes_with_raw_span_fields(b""), SETTINGS)
    assert spans_reason(deep) == \
        "not an OTLP ExportTraceServiceRequest: protobuf parse error (Exceeded upb_DecodeOptions_MaxDepth)"
    # A logs request is not a traces request.
    assert spans_reason(samples.logs_request().SerializeToString()).startswith(
        "not an OTLP ExportTraceServiceRequest: protobuf parse error")


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda s: s.update(traceId="zz" * 16), "resourceSpans[0].scopeSpans[0].spans[0].traceId: not a hex id"),
    (lambda s: s.update(traceId="ab" * 8), f"{SPAN0}: traceId: expected 16 bytes, "
                                           "got 8"),
    (lambda s: s.update(traceId="00" * 16), f"{SPAN0}: traceId: all zero, which "
                                            "OTLP defines as invalid"),
    (lambda s: s.pop("spanId"), f"{SPAN0}: spanId: missing"),
    (lambda s: s.update(parentSpanId="abcd"), f"{SPAN0}: parentSpanId: expected 8 "
                                              "bytes, got 2"),
    (lambda s: s.update(endTimeUnixNano="1"), f"{SPAN0}: ends before it starts"),
    (lambda s: s.update(startTimeUnixNano="soon"), "not an OTLP ExportTraceServiceRequest (JSON): Failed to parse "
                                                   "resourceSpans field: Failed to parse scopeSpans field: "
                                                   "Failed to parse spans field: Failed to parse startTimeUnixNano "
                                                   "field: invalid literal for int() with base 10: 'soon'"),
    (lambda s: s.update(attributes="many"), "not an OTLP ExportTraceServiceRequest (JSON): Failed to parse "
                                            "resourceSpans field: Failed to parse scopeSpans field: Failed to parse "
                                            "spans field: Failed to parse attributes field: repeated field "
                                            "attributes must be in [] which is many"),
])
def test_malformed_otlp_json_span_says_where(mutate, expected):
    document = json.loads(to_otlp_json(samples.trace_request()))
    mutate(document["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    assert spans_reason(json.dumps(document).encode()).startswith(expected)


def test_unreadable_log_messages_have_a_reason():
    assert logs_reason(b"\x0a\x05abc") == \
        "not an OTLP ExportLogsServiceRequest: protobuf parse error (Wire format was corrupt)"
    assert logs_reason(b"") == "ExportLogsServiceRequest holds no log records"
    assert logs_reason(b'{"resourceLogs": 5}').startswith("not an OTLP ExportLogsServiceRequest (JSON)")
    bad_trace = samples.logs_request()
    bad_trace.resource_logs[0].scope_logs[0].log_records[0].trace_id = b"\x01\x02"
    assert logs_reason(bad_trace.SerializeToString()) == \
        f"{LOG0}: traceId: expected 16 bytes, got 2"
    assert logs_reason(samples.logs_request(service="").SerializeToString()) == \
        "resourceLogs[0]: no service: none of resource attributes service.name, service, job, app"


def test_limits_on_otlp():
    settings = Settings(ingest_max_message_bytes=4096, ingest_max_field_bytes=1024)
    long_name = samples.trace_request(samples.otlp_span(name="n" * 1500)).SerializeToString()
    assert spans_reason(long_name, settings) == \
        f"{SPAN0}: field 'name' is 1500 bytes, over the 1024-byte limit"
    huge = samples.logs_request("b" * 5000).SerializeToString()
    assert logs_reason(huge, settings) == f"message of {len(huge)} bytes is over the 4096-byte limit"
