"""What the OpenTelemetry Collector's Kafka exporter writes to otlp_spans / otlp_logs, read into canonical
Span and LogRecord records. Both encodings: `otlp_proto` (ExportTraceServiceRequest / ExportLogsServiceRequest
bytes) and `otlp_json` (OTLP/JSON), parsed with opentelemetry-proto and google.protobuf.json_format.

OTLP/JSON differs from the proto3 JSON mapping in one place: trace and span ids are hex, not base64.
`parse_request` and `to_otlp_json` convert at the boundary, so json_format does the rest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
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
from streams.ingest.json_input import check_message_size, load_json_object
from streams.ingest.times import from_unix_nanos
from streams.ingest.validation import build
from streams.records import LogRecord, Severity, Span, SpanKind, severity_from_otlp_number, severity_from_text

Encoding = Literal["otlp_proto", "otlp_json"]
Request = TypeVar("Request", ExportTraceServiceRequest, ExportLogsServiceRequest)

SOURCE_OTLP = "otlp"
# json_format's own limit; protobuf's binary parser stops at 100 levels of nested messages.
_JSON_RECURSION_DEPTH = 64
_JSON_WHITESPACE = b" \t\r\n"
_KINDS = {
    OtlpSpan.SPAN_KIND_INTERNAL: SpanKind.internal, OtlpSpan.SPAN_KIND_SERVER: SpanKind.server,
    OtlpSpan.SPAN_KIND_CLIENT: SpanKind.client, OtlpSpan.SPAN_KIND_PRODUCER: SpanKind.producer,
    OtlpSpan.SPAN_KIND_CONSUMER: SpanKind.consumer,
}
_STATUSES = {OtlpStatus.STATUS_CODE_OK: "ok", OtlpStatus.STATUS_CODE_ERROR: "error"}
# Where a client span names its callee, most specific first (semantic conventions old and new).
_PEER_ATTRIBUTES = ("server.address", "net.peer.name", "db.namespace", "db.name", "db.system.name", "db.system")

# Where the ids sit in OTLP/JSON (camelCase, as the spec writes them; snake_case is accepted too).
_TRACE_ID_PATHS = (("resourceSpans", "scopeSpans", "spans"), ("traceId", "spanId", "parentSpanId"))
_LINK_ID_FIELDS = ("traceId", "spanId")
_LOG_ID_PATHS = (("resourceLogs", "scopeLogs", "logRecords"), ("traceId", "spanId"))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def detect_encoding(data: bytes, configured: str = "auto") -> Encoding:
    """The configured encoding, or per message: OTLP/JSON starts with '{' (after whitespace).

    A protobuf request starts with 0x0a (the tag of its first resource; a newline to JSON) and a length
    byte that may be 0x7b ('{'): `parse_request` tries protobuf first when a message starts with 0x0a.
    """
    if configured in ("otlp_proto", "otlp_json"):
        return configured  # type: ignore[return-value]
    return "otlp_json" if data.lstrip(_JSON_WHITESPACE)[:1] == b"{" else "otlp_proto"


def _names(name: str) -> tuple[str, ...]:
    return (name,) if _snake(name) == name else (name, _snake(name))


def _items(container: dict[str, Any], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in _names(name):
        items = container.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    yield f"{key}[{i}]", item


def _convert_ids(record: dict[str, Any], fields: tuple[str, ...], where: str,
                 convert: Callable[[str, str], str]) -> None:
    for field in fields:
        for key in _names(field):
            value = record.get(key)
            if isinstance(value, str) and value:
                record[key] = convert(value, f"{where}.{key}")


def _hex_to_base64(value: str, where: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except ValueError:
        raise IngestError(f"{where}: not a hex id") from None


def _base64_to_hex(value: str, where: str) -> str:
    return base64.b64decode(value).hex()


def _walk_ids(document: dict[str, Any], request: type[Message], convert: Callable[[str, str], str]) -> None:
    is_traces = request is ExportTraceServiceRequest
    (outer, middle, inner), fields = _TRACE_ID_PATHS if is_traces else _LOG_ID_PATHS
    for w1, resource in _items(document, outer):
        for w2, scope in _items(resource, middle):
            for w3, record in _items(scope, inner):
                where = f"{w1}.{w2}.{w3}"
                _convert_ids(record, fields, where, convert)
                if is_traces:
                    for w4, link in _items(record, "links"):
                        _convert_ids(link, _LINK_ID_FIELDS, f"{where}.{w4}", convert)


def parse_request(data: bytes | None, request: type[Request], encoding: str, max_bytes: int) -> Request:
    """An ExportTraceServiceRequest or ExportLogsServiceRequest from otlp_proto or otlp_json bytes."""
    data = check_message_size(data, max_bytes)
    detected = detect_encoding(data, encoding)
    if detected == "otlp_json" and encoding == "auto" and data[:1] == b"\n":
        try:
            return _parse_protobuf(data, request)
        except IngestError as not_protobuf:
            try:
                return _parse_json(data, request, max_bytes)
            except IngestError as not_json:
                raise IngestError(f"{not_protobuf.reason}; nor OTLP/JSON: {not_json.reason}") from None
    if detected == "otlp_proto":
        return _parse_protobuf(data, request)
    return _parse_json(data, request, max_bytes)


def _parse_protobuf(data: bytes, request: type[Request]) -> Request:
    try:
        return request.FromString(data)
    except DecodeError as exc:
        detail = str(exc).rsplit(": ", 1)[-1] if ": " in str(exc) else ""
        raise IngestError(f"not an OTLP {request.DESCRIPTOR.name}: protobuf parse error"
                          + (f" ({detail})" if detail else "")) from None


def _parse_json(data: bytes, request: type[Request], max_bytes: int) -> Request:
    name = request.DESCRIPTOR.name
    document = load_json_object(data, max_bytes)
    _walk_ids(document, request, _hex_to_base64)
    try:
        return json_format.ParseDict(document, request(), ignore_unknown_fields=True,
                                     max_recursion_depth=_JSON_RECURSION_DEPTH)
    except (json_format.ParseError, ValueError, TypeError, UnicodeError, RecursionError) as exc:
        detail = str(exc).replace(f"Failed to parse {name}: ", "")[:300]
        raise IngestError(f"not an OTLP {name} (JSON): {detail}") from None


def to_otlp_json(message: Message) -> bytes:
    """OTLP/JSON as the Collector writes it: camelCase, enums as integers, int64 as strings, hex ids."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    _walk_ids(document, type(message), _base64_to_hex)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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


def _resource_service(resource_attributes: dict[str, str], settings: Settings, where: str) -> str:
    order = ["service.name", *[name for name in settings.service_labels if name != "service.name"]]
    try:
        return resolve_service(resource_attributes, order, "resource attributes")
    except IngestError as exc:
        raise IngestError(f"{where}: {exc.reason}") from None


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


def _span(span: OtlpSpan, service: str, where: str) -> Span:
    if span.end_time_unix_nano < span.start_time_unix_nano:
        raise IngestError(f"{where}: ends before it starts")
    attributes = attributes_text(span.attributes)
    return build(
        Span, where,
        trace_id=_id_hex(span.trace_id, 16, f"{where}.traceId", required=True),
        span_id=_id_hex(span.span_id, 8, f"{where}.spanId", required=True),
        parent_span_id=_id_hex(span.parent_span_id, 8, f"{where}.parentSpanId", required=False),
        service=service, name=span.name, kind=_KINDS.get(span.kind, SpanKind.unspecified),
        start_time=from_unix_nanos(span.start_time_unix_nano), end_time=from_unix_nanos(span.end_time_unix_nano),
        duration_ms=(span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
        status=_STATUSES.get(span.status.code, "unset"), status_message=span.status.message or None,
        peer_service=_peer_service(span, attributes), attributes=attributes,
    )


def _request_items(resources: Iterable[Any], path: tuple[str, ...], settings: Settings
                   ) -> Iterator[tuple[str, str, Any]]:
    """(service, where, item) for every span or log record of a request, resource by resource.

    `path` names the three levels as OTLP/JSON does (resourceSpans, scopeSpans, spans); the service comes from
    each resource's attributes, resolved once, when its first item is met (a resource without items needs none).
    """
    resource_field, scope_field, item_field = path
    scopes_of, items_of = _snake(scope_field), _snake(item_field)
    for ri, resource in enumerate(resources):
        service: str | None = None
        for si, scope in enumerate(getattr(resource, scopes_of)):
            for ii, item in enumerate(getattr(scope, items_of)):
                if service is None:
                    service = _resource_service(attributes_text(resource.resource.attributes), settings,
                                                f"{resource_field}[{ri}]")
                yield service, f"{resource_field}[{ri}].{scope_field}[{si}].{item_field}[{ii}]", item


def decode_spans(value: bytes | None, settings: Settings) -> list[Span]:
    """One message on otlp_spans into canonical spans (all of them, or IngestError for the whole message)."""
    request = parse_request(value, ExportTraceServiceRequest, settings.otlp_encoding,
                            settings.ingest_max_message_bytes)
    spans = [check_fields(_span(span, service, where), settings.ingest_max_field_bytes)
             for service, where, span in _request_items(request.resource_spans, _TRACE_ID_PATHS[0], settings)]
    if not spans:
        raise IngestError("ExportTraceServiceRequest holds no spans")
    return spans


def _severity(record: OtlpLogRecord) -> tuple[Severity, str]:
    number = int(record.severity_number)
    if 1 <= number <= 24:
        level = record.severity_text or SeverityNumber.Name(number).removeprefix("SEVERITY_NUMBER_")
        return severity_from_otlp_number(number), level
    return severity_from_text(record.severity_text), record.severity_text


def _log_record(record: OtlpLogRecord, service: str, where: str, now: datetime) -> LogRecord:
    severity, level = _severity(record)
    observed = from_unix_nanos(record.observed_time_unix_nano) if record.observed_time_unix_nano else now
    event_time = from_unix_nanos(record.time_unix_nano) if record.time_unix_nano else observed
    attributes = attributes_text(record.attributes)
    if record.event_name:
        attributes.setdefault("event.name", record.event_name)
    return build(
        LogRecord, where,
        time=event_time, observed_time=observed, service=service, severity=severity, level=level,
        message=any_value_text(record.body),
        trace_id=_id_hex(record.trace_id, 16, f"{where}.traceId", required=False),
        span_id=_id_hex(record.span_id, 8, f"{where}.spanId", required=False),
        attributes=attributes, source=SOURCE_OTLP,
    )


def decode_logs(value: bytes | None, settings: Settings, now: datetime | None = None) -> list[LogRecord]:
    """One message on otlp_logs into canonical log records (all of them, or IngestError for the whole message)."""
    now = now or datetime.now(UTC)
    request = parse_request(value, ExportLogsServiceRequest, settings.otlp_encoding,
                            settings.ingest_max_message_bytes)
    records = [check_fields(_log_record(record, service, where, now), settings.ingest_max_field_bytes)
               for service, where, record in _request_items(request.resource_logs, _LOG_ID_PATHS[0], settings)]
    if not records:
        raise IngestError("ExportLogsServiceRequest holds no log records")
    return records
