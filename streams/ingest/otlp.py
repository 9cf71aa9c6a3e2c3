"""What the OpenTelemetry Collector's Kafka exporter writes to otlp_spans / otlp_logs, read into canonical
Span and LogRecord records, record by record.

Each record is judged on its own (OTLP's partial-success semantics): the readable ones become canonical
records with their resource (the semantic-convention attributes by name, every attribute as text), their
instrumentation scope and, for spans, their events (exceptions with type, message and stack trace) and links.
Each unreadable one is rejected with its position, its service and the record alone as a request of its own
(in the message's encoding); a resource without a service is rejected once, with all its records. The wire
level (encodings, parsing, cutting requests down) is in streams/ingest/otlp_wire.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpLogRecord
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as OtlpStatus

from aiops.core.settings import Settings
from streams.ingest.errors import IngestError
from streams.ingest.fields import check_fields, resolve_service
from streams.ingest.otlp_wire import (
    Encoding,
    Path,
    detect_encoding,
    encode,
    parse_request,
    parse_request_encoded,
    paths,
    subset,
    to_otlp_json,
)
from streams.ingest.times import from_unix_nanos
from streams.ingest.validation import build
from streams.ingest.verdicts import Decoded, Rejected
from streams.records import (
    InstrumentationScope,
    LogRecord,
    Resource,
    Severity,
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    severity_from_otlp_number,
    severity_from_text,
)

__all__ = ["OtlpVerdict", "any_value_text", "attributes_text", "decode_logs", "decode_spans", "detect_encoding",
           "judge_request", "parse_request", "resource_from", "to_otlp_json"]

SOURCE_OTLP = "otlp"
_KINDS = {
    OtlpSpan.SPAN_KIND_INTERNAL: SpanKind.internal, OtlpSpan.SPAN_KIND_SERVER: SpanKind.server,
    OtlpSpan.SPAN_KIND_CLIENT: SpanKind.client, OtlpSpan.SPAN_KIND_PRODUCER: SpanKind.producer,
    OtlpSpan.SPAN_KIND_CONSUMER: SpanKind.consumer,
}
_STATUSES = {OtlpStatus.STATUS_CODE_OK: "ok", OtlpStatus.STATUS_CODE_ERROR: "error"}
# Where a client span names its callee, most specific first (semantic conventions old and new).
_PEER_ATTRIBUTES = ("server.address", "net.peer.name", "db.namespace", "db.name", "db.system.name", "db.system")
# The resource's semantic-convention attributes kept by name (newest name first).
RESOURCE_FIELDS = {
    "service_namespace": ("service.namespace",),
    "service_version": ("service.version",),
    "service_instance_id": ("service.instance.id",),
    "deployment_environment": ("deployment.environment.name", "deployment.environment"),
    "host_name": ("host.name",),
    "k8s_namespace": ("k8s.namespace.name",),
    "k8s_pod": ("k8s.pod.name",),
    "k8s_node": ("k8s.node.name",),
}
_POSITION: dict[type[Message], tuple[str, str, str]] = {
             ExportTraceServiceRequest: ("resourceSpans", "scopeSpans", "spans"),
             ExportLogsServiceRequest: ("resourceLogs", "scopeLogs", "logRecords")}


def _plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind is None:
        return None
    return getattr(value, kind)


def any_value_text(value: AnyValue) -> str:
    """An OTLP AnyValue as text: strings as they are, scalars as JSON would write them, arrays and maps as JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain, separators=(",", ":"), ensure_ascii=False)


def attributes_text(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: any_value_text(kv.value) for kv in attributes}


def resource_from(attributes: dict[str, str]) -> Resource:
    """A Resource from an OTLP resource's attributes (as text)."""
    named = {field: next((attributes[n] for n in names if attributes.get(n)), None)
             for field, names in RESOURCE_FIELDS.items()}
    return Resource(**named, attributes=attributes)


def _resource_service(resource_attributes: dict[str, str], settings: Settings, where: str) -> str:
    order = ["service.name", *[name for name in settings.service_labels if name != "service.name"]]
    try:
        return resolve_service(resource_attributes, order, "resource attributes")
    except IngestError as exc:
        raise IngestError(f"{where}: {exc.reason}" if where else exc.reason) from None


def _id_hex(raw: bytes, size: int, where: str, *, required: bool) -> str | None:
    if not raw:
        if required:
            raise IngestError(f"{where}: missing")
        return None
    if len(raw) != size:
        raise IngestError(f"{where}: expected {size} bytes, got {len(raw)}")
    if not any(raw):
        if required:
            raise IngestError(f"{where}: all zero, which OTLP defines as invalid")
        return None
    return raw.hex()


def _peer_service(span: OtlpSpan, attributes: dict[str, str]) -> str | None:
    if attributes.get("peer.service"):
        return attributes["peer.service"]
    if span.kind == OtlpSpan.SPAN_KIND_CLIENT:
        for name in _PEER_ATTRIBUTES:
            if attributes.get(name):
                return attributes[name]
    return None


def _scope(scope: Any) -> InstrumentationScope | None:
    if not scope.name and not scope.version:
        return None
    return InstrumentationScope(name=scope.name, version=scope.version or None)


def _events(span: OtlpSpan) -> list[SpanEvent]:
    return [SpanEvent(name=event.name, time=from_unix_nanos(event.time_unix_nano),
                      attributes=attributes_text(event.attributes)) for event in span.events]


def _links(span: OtlpSpan) -> list[SpanLink]:
    return [SpanLink(trace_id=_id_hex(link.trace_id, 16, f"links[{i}].traceId", required=True),
                     span_id=_id_hex(link.span_id, 8, f"links[{i}].spanId", required=True),
                     attributes=attributes_text(link.attributes)) for i, link in enumerate(span.links)]


def _span(span: OtlpSpan, service: str, resource: Resource, scope: InstrumentationScope | None) -> Span:
    if span.end_time_unix_nano < span.start_time_unix_nano:
        raise IngestError("ends before it starts")
    attributes = attributes_text(span.attributes)
    return build(
        Span,
        trace_id=_id_hex(span.trace_id, 16, "traceId", required=True),
        span_id=_id_hex(span.span_id, 8, "spanId", required=True),
        parent_span_id=_id_hex(span.parent_span_id, 8, "parentSpanId", required=False),
        service=service, name=span.name, kind=_KINDS.get(span.kind, SpanKind.unspecified),
        start_time=from_unix_nanos(span.start_time_unix_nano), end_time=from_unix_nanos(span.end_time_unix_nano),
        duration_ms=(span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
        status=_STATUSES.get(span.status.code, "unset"), status_message=span.status.message or None,
        peer_service=_peer_service(span, attributes), attributes=attributes, resource=resource, scope=scope,
        events=_events(span), links=_links(span),
    )


def _severity(record: OtlpLogRecord) -> tuple[Severity, str]:
    number = int(record.severity_number)
    if 1 <= number <= 24:
        level = record.severity_text or SeverityNumber.Name(number).removeprefix("SEVERITY_NUMBER_")
        return severity_from_otlp_number(number), level
    return severity_from_text(record.severity_text), record.severity_text


def _log_record(record: OtlpLogRecord, service: str, resource: Resource, scope: InstrumentationScope | None,
                now: datetime) -> LogRecord:
    severity, level = _severity(record)
    observed = from_unix_nanos(record.observed_time_unix_nano) if record.observed_time_unix_nano else now
    event_time = from_unix_nanos(record.time_unix_nano) if record.time_unix_nano else observed
    attributes = attributes_text(record.attributes)
    if record.event_name:
        attributes.setdefault("event.name", record.event_name)
    return build(
        LogRecord,
        time=event_time, observed_time=observed, service=service, severity=severity, level=level,
        message=any_value_text(record.body),
        trace_id=_id_hex(record.trace_id, 16, "traceId", required=False),
        span_id=_id_hex(record.span_id, 8, "spanId", required=False),
        attributes=attributes, source=SOURCE_OTLP, resource=resource, scope=scope,
    )


@dataclass(frozen=True)
class OtlpVerdict:
    """One record of a request, read or rejected; `paths` are the records it covers (more than one when a
    whole resource is rejected)."""

    paths: tuple[Path, ...]
    record: Span | LogRecord | None = None
    rejected: Rejected | None = None


def _position(request: Message, path: tuple[int, ...]) -> str:
    names = _POSITION[type(request)]
    return ".".join(f"{name}[{index}]" for name, index in zip(names, path, strict=False))


def judge_request(request: Message, settings: Settings, encoding: Encoding,
                  now: datetime | None = None) -> Iterator[OtlpVerdict]:
    """Every record of an export request, each read into its canonical record or rejected on its own."""
    now = now or datetime.now(UTC)
    is_traces = isinstance(request, ExportTraceServiceRequest)
    limit = settings.ingest_max_field_bytes
    by_resource: dict[int, list[tuple[Path, Any, Any, Any]]] = {}
    for item in paths(request):
        by_resource.setdefault(item[0][0], []).append(item)
    for ri, items in by_resource.items():
        attributes = attributes_text(items[0][1].resource.attributes)
        try:
            service = _resource_service(attributes, settings, "")
        except IngestError as exc:  # no service for any of its records: rejected once, as a whole
            covered = tuple(path for path, *_ in items)
            yield OtlpVerdict(covered, rejected=Rejected(
                _position(request, (ri,)), exc.reason, None, encode(subset(request, covered), encoding),
                len(covered)))
            continue
        resource = resource_from(attributes)
        for path, _resource, scope, item in items:
            try:
                scope_record = _scope(scope.scope)
                record = (_span(item, service, resource, scope_record) if is_traces
                          else _log_record(item, service, resource, scope_record, now))
                yield OtlpVerdict((path,), record=check_fields(record, limit))
            except IngestError as exc:
                yield OtlpVerdict((path,), rejected=Rejected(_position(request, path), exc.reason, service,
                                                             encode(subset(request, [path]), encoding)))


def _decode(value: bytes | None, settings: Settings,
            request_type: type[ExportTraceServiceRequest] | type[ExportLogsServiceRequest], noun: str,
            now: datetime | None = None) -> Decoded:
    request, encoding = parse_request_encoded(value, request_type, settings.otlp_encoding,
                                              settings.ingest_max_message_bytes)
    decoded: Decoded = Decoded()
    for verdict in judge_request(request, settings, encoding, now):
        if verdict.record is not None:
            decoded.append(verdict.record)
        elif verdict.rejected is not None:
            decoded.rejected.append(verdict.rejected)
    if not decoded and not decoded.rejected:
        raise IngestError(f"{request_type.DESCRIPTOR.name} holds no {noun}")
    return decoded


def decode_spans(value: bytes | None, settings: Settings) -> Decoded[Span]:
    """One message on otlp_spans into canonical spans, each unreadable one in `rejected` (IngestError when the
    message as a whole cannot be read)."""
    return _decode(value, settings, ExportTraceServiceRequest, "spans")


def decode_logs(value: bytes | None, settings: Settings, now: datetime | None = None) -> Decoded[LogRecord]:
    """One message on otlp_logs into canonical log records, each unreadable one in `rejected` (IngestError when
    the message as a whole cannot be read)."""
    return _decode(value, settings, ExportLogsServiceRequest, "log records", now)


def count_records(request: Message) -> int:
    """How many spans or log records a request holds."""
    return sum(1 for _ in paths(request))
