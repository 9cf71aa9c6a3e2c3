"""The OTLP export requests the Collector's Kafka exporter writes, at the wire level: both encodings (`otlp_proto`
and `otlp_json`) parsed and written with opentelemetry-proto and google.protobuf.json_format, and requests cut
down to some of their records (for per-record dead letters and the receiver's partial success).

OTLP/JSON differs from the proto3 JSON mapping in one place: trace and span ids are hex, not base64.
`parse_request` and `to_otlp_json` convert at the boundary, so json_format does the rest.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from streams.ingest.errors import IngestError
from streams.ingest.json_input import check_message_size, load_json_object

Encoding = Literal["otlp_proto", "otlp_json"]
Request = TypeVar("Request", ExportTraceServiceRequest, ExportLogsServiceRequest)

# json_format's own limit; protobuf's binary parser stops at 100 levels of nested messages.
_JSON_RECURSION_DEPTH = 64
_JSON_WHITESPACE = b" \t\r\n"

# Where the ids sit in OTLP/JSON (camelCase, as the spec writes them; snake_case is accepted too).
_TRACE_ID_PATHS = (("resourceSpans", "scopeSpans", "spans"), ("traceId", "spanId", "parentSpanId"))
_LINK_ID_FIELDS = ("traceId", "spanId")
_LOG_ID_PATHS = (("resourceLogs", "scopeLogs", "logRecords"), ("traceId", "spanId"))
# The three levels of each request: (resources, scopes, records) as protobuf fields.
_LEVELS: dict[type[Message], tuple[str, str, str]] = {
           ExportTraceServiceRequest: ("resource_spans", "scope_spans", "spans"),
           ExportLogsServiceRequest: ("resource_logs", "scope_logs", "log_records")}
Path = tuple[int, int, int]  # (resource, scope, record) indices


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
    return parse_request_encoded(data, request, encoding, max_bytes)[0]


def parse_request_encoded(data: bytes | None, request: type[Request], encoding: str,
                          max_bytes: int) -> tuple[Request, Encoding]:
    """The request, and the encoding it was in (so that parts of it can be written back the same way)."""
    data = check_message_size(data, max_bytes)
    detected = detect_encoding(data, encoding)
    if detected == "otlp_json" and encoding == "auto" and data[:1] == b"\n":
        try:
            return _parse_protobuf(data, request), "otlp_proto"
        except IngestError as not_protobuf:
            try:
                return _parse_json(data, request, max_bytes), "otlp_json"
            except IngestError as not_json:
                raise IngestError(f"{not_protobuf.reason}; nor OTLP/JSON: {not_json.reason}") from None
    if detected == "otlp_proto":
        return _parse_protobuf(data, request), "otlp_proto"
    return _parse_json(data, request, max_bytes), "otlp_json"


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




def encode(message: Message, encoding: Encoding) -> bytes:
    return to_otlp_json(message) if encoding == "otlp_json" else message.SerializeToString()


def levels(request: Message) -> tuple[str, str, str]:
    """The protobuf field names of a request's resources, scopes and records."""
    return _LEVELS[type(request)]


def paths(request: Message) -> Iterator[tuple[Path, Any, Any, Any]]:
    """Every record of a request with its (resource, scope, record) indices, resource and scope."""
    resources, scopes, records = levels(request)
    for ri, resource in enumerate(getattr(request, resources)):
        for si, scope in enumerate(getattr(resource, scopes)):
            for pi, record in enumerate(getattr(scope, records)):
                yield (ri, si, pi), resource, scope, record


def subset(request: Request, keep: Iterable[Path]) -> Request:
    """A request holding only the records at `keep`, each under a copy of its own resource and scope."""
    resources, scopes, records = levels(request)
    tree: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for ri, si, pi in sorted(set(keep)):
        tree[ri][si].append(pi)
    out = type(request)()
    for ri, by_scope in tree.items():
        source = getattr(request, resources)[ri]
        target = getattr(out, resources).add(resource=source.resource, schema_url=source.schema_url)
        for si, indices in by_scope.items():
            scope = getattr(source, scopes)[si]
            copied = getattr(target, scopes).add(scope=scope.scope, schema_url=scope.schema_url)
            getattr(copied, records).extend(getattr(scope, records)[pi] for pi in indices)
    return out
