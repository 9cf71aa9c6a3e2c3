"""Inputs as the observability stack writes them: Alertmanager payloads, generic alerts, Vector / Fluent Bit
log lines, OTLP requests (built with opentelemetry-proto, in both encodings)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
T0_NANOS = int(T0.timestamp()) * 1_000_000_000
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


def to_json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_alert(**labels: str) -> dict[str, Any]:
    labels = {"alertname": "PostgresConnectionsNearLimit", "service": "orders-db", "severity": "critical",
              "env": "prod", **labels}
    return {
        "status": "firing", "labels": labels,
        "annotations": {"summary": "orders-db at 97% of max_connections", "runbook_url": "http://runbooks/pg"},
        "startsAt": "2026-11-26T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_connections", "fingerprint": "3f2a9c1d0b7e6a55",
    }


def webhook_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    alerts = alerts or (webhook_alert(),)
    return {
        "receiver": "aiops", "status": status, "alerts": list(alerts),
        "groupLabels": {"alertname": "PostgresConnectionsNearLimit"},
        "commonLabels": {"alertname": "PostgresConnectionsNearLimit", "env": "prod"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "version": "4",
        "groupKey": '{}:{alertname="PostgresConnectionsNearLimit"}', "truncatedAlerts": 0,
    }


def generic_alert(**fields: Any) -> dict[str, Any]:
    return {"name": "CheckoutErrorRate", "status": "firing", "severity": "P2", "service": "checkout",
            "labels": {"env": "prod", "team": "payments"}, "annotations": {"summary": "5xx above 2%"},
            "starts_at": "2026-11-26T10:00:00Z", **fields}


def vector_line(**fields: Any) -> dict[str, Any]:
    """What Vector's kafka sink (encoding json) writes for a kubernetes_logs event."""
    return {"message": "timeout acquiring connection from pool after 30000ms",
            "timestamp": "2026-11-26T10:00:01.123456789Z", "source_type": "kubernetes_logs",
            "level": "ERROR", "kubernetes": {"container_name": "orders-api", "pod_name": "orders-api-7d9f-x2",
                                             "pod_namespace": "shop", "pod_labels": {"app": "orders-api"}},
            "trace_id": TRACE_ID, "stream": "stdout", **fields}


def fluentbit_line(**fields: Any) -> dict[str, Any]:
    """What Fluent Bit's kafka output (format json) writes after the kubernetes filter."""
    return {"@timestamp": 1795687201.25, "log": "GET /cart 503 upstream timeout\n", "stream": "stderr",
            "kubernetes": {"pod_name": "cart-5c8f", "namespace_name": "shop", "container_name": "cart",
                           "labels": {"app.kubernetes.io/name": "cart"}}, "severity": "warn", **fields}


def _kv(key: str, value: Any) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, AnyValue):
        kv.value.CopyFrom(value)
    else:
        kv.value.string_value = str(value)
    return kv


def otlp_span(name: str = "GET /orders", *, trace_id: str = TRACE_ID, span_id: str = SPAN_ID,
              parent_span_id: str = "", kind: int = Span.SPAN_KIND_SERVER, start: int = T0_NANOS,
              duration_ns: int = 42_500_000, status: int = Status.STATUS_CODE_UNSET, message: str = "",
              attributes: dict[str, Any] | None = None) -> Span:
    span = Span(trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(span_id),
                parent_span_id=bytes.fromhex(parent_span_id), name=name, kind=kind,
                start_time_unix_nano=start, end_time_unix_nano=start + duration_ns)
    span.status.code = status
    span.status.message = message
    span.attributes.extend(_kv(k, v) for k, v in (attributes or {}).items())
    return span


def trace_request(*spans: Span, service: str = "orders-api",
                  resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_attributes = {"service.name": service, **(resource or {})} if service else dict(resource or {})
    resource_spans.resource.attributes.extend(_kv(k, v) for k, v in resource_attributes.items())
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(spans or (otlp_span(),))
    return request


def logs_request(*bodies: str, service: str = "orders-api", severity: int = SeverityNumber.SEVERITY_NUMBER_ERROR,
                 severity_text: str = "ERROR", trace_id: str = TRACE_ID, span_id: str = SPAN_ID,
                 attributes: dict[str, Any] | None = None,
                 resource: dict[str, Any] | None = None) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_attributes = {"service.name": service, **(resource or {})} if service else dict(resource or {})
    resource_logs.resource.attributes.extend(_kv(k, v) for k, v in resource_attributes.items())
    scope_logs = resource_logs.scope_logs.add()
    for i, body in enumerate(bodies or ("payment provider timeout after 30s",)):
        record = scope_logs.log_records.add(
            time_unix_nano=T0_NANOS + i * 1000, observed_time_unix_nano=T0_NANOS + 5_000_000,
            severity_number=severity, severity_text=severity_text)
        record.body.string_value = body
        record.trace_id = bytes.fromhex(trace_id) if trace_id else b""
        record.span_id = bytes.fromhex(span_id) if span_id else b""
        record.attributes.extend(_kv(k, v) for k, v in (attributes or {}).items())
    return request


def random_hex(size: int) -> str:
    return os.urandom(size).hex()


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def pb_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand (for inputs the library refuses to build)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def nested_any_value_bytes(depth: int) -> bytes:
    """An AnyValue holding kvlists `depth` levels deep (three messages per level), serialized."""
    value = pb_field(1, b"leaf")  # AnyValue.string_value
    for _ in range(depth):
        key_value = pb_field(1, b"k") + pb_field(2, value)  # KeyValue.key, KeyValue.value
        value = pb_field(6, pb_field(1, key_value))  # AnyValue.kvlist_value.values
    return value


def trace_request_bytes_with_raw_span_fields(extra_span_fields: bytes, service: str = "orders-api") -> bytes:
    """A serialized ExportTraceServiceRequest whose one span carries extra hand-written fields."""
    span = otlp_span().SerializeToString() + extra_span_fields
    resource = trace_request(service=service).resource_spans[0].resource.SerializeToString()
    resource_spans = pb_field(1, resource) + pb_field(2, pb_field(2, span))  # ResourceSpans.resource, .scope_spans
    return pb_field(1, resource_spans)  # ExportTraceServiceRequest.resource_spans


def grafana_alert(**labels: str) -> dict[str, Any]:
    """One alert of a Grafana Alerting webhook (version 1) as Grafana 11 writes it."""
    labels = {"alertname": "CheckoutLatencyHigh", "grafana_folder": "shop", "service": "checkout-api",
              "severity": "major", **labels}
    return {
        "status": "firing", "labels": labels,
        "annotations": {"summary": "p95 latency above 2s", "runbook_url": "http://runbooks/checkout"},
        "startsAt": "2026-11-26T10:00:00.5+01:00", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://grafana:3000/alerting/grafana/ce1x/view?orgId=1", "fingerprint": "8a1b2c3d4e5f6a7b",
        "silenceURL": "http://grafana:3000/alerting/silence/new?alertmanager=grafana&matcher=__alert_rule_uid__%3Dce1x",
        "dashboardURL": "http://grafana:3000/d/shop-latency?orgId=1", "panelURL":
        "http://grafana:3000/d/shop-latency?orgId=1&viewPanel=4", "values": {"A": 2.31, "C": 1},
        "valueString": "[ var='A' labels={service=checkout-api} value=2.31 ], [ var='C' labels={} value=1 ]",
    }


def grafana_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    alerts = alerts or (grafana_alert(),)
    return {
        "receiver": "aiops", "status": status, "orgId": 1, "alerts": list(alerts),
        "groupLabels": {"alertname": "CheckoutLatencyHigh"}, "commonLabels": {"alertname": "CheckoutLatencyHigh"},
        "commonAnnotations": {}, "externalURL": "http://grafana:3000/", "version": "1",
        "groupKey": '{}/{__grafana_autogenerated__="true"}:{alertname="CheckoutLatencyHigh"}', "truncatedAlerts": 0,
        "title": "[FIRING:1] CheckoutLatencyHigh shop (checkout-api major)", "state": "alerting",
        "message": "**Firing**\n\nValue: A=2.31, C=1\nLabels:\n - alertname = CheckoutLatencyHigh\n",
    }


def old_alertmanager_payload() -> dict[str, Any]:
    """A grouped firing payload of three alerts as Alertmanager before 0.19 sent it: no per-alert fingerprint,
    no truncatedAlerts, nanosecond start times, an escaped ampersand in the generator URL."""
    def alert(host: str) -> dict[str, Any]:
        return {"status": "firing",
                "labels": {"alertname": "ProbeFailed", "instance": host, "job": "blackbox-http", "monitor": "edge",
                           "severity": "major"},
                "annotations": {"description": f"{host} does not answer HTTP probes"},
                "startsAt": "2019-06-03T08:14:07.412094118Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success%7Bjob%3D%22blackbox-http%22%7D"
                                "+%3D%3D+0\u0026g0.tab=1"}
    return {"receiver": "aiops", "status": "firing",
            "alerts": [alert("10.0.3.7"), alert("10.0.3.8"), alert("10.0.3.9")],
            "groupLabels": {"alertname": "ProbeFailed"},
            "commonLabels": {"alertname": "ProbeFailed", "job": "blackbox-http", "monitor": "edge",
                             "severity": "major"},
            "commonAnnotations": {}, "externalURL": "http://:9093", "version": "4",
            "groupKey": '{}/{severity=~"^(?:critical|major)$"}:{alertname="ProbeFailed"}'}
