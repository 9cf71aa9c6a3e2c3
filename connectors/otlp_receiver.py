"""`aiops connect otlp`: an OTLP/HTTP receiver for applications that send directly, writing what the
OpenTelemetry Collector's Kafka exporter would write.

POST /v1/traces and /v1/logs take `application/x-protobuf` or `application/json` (OTLP/JSON), optionally
gzip- or deflate-compressed. Each request becomes one message, an ExportTraceServiceRequest on otlp_spans
or an ExportLogsServiceRequest on otlp_logs, without a key (as the Collector writes them). The encoding
written follows `otlp_receiver_encoding`: `as_received` (protobuf stays the exact bytes received, JSON is
re-marshalled as OTLP/JSON), or always `otlp_proto` / `otlp_json`.

Records are judged one by one (OTLP's partial success): the readable ones are forwarded (the request cut down
to them), each unreadable one goes alone to `<topic>.dlq` with its position, service and reason, and the
answer's `partial_success` counts them (`rejected_spans` / `rejected_log_records`) and says why, so the
sender knows not to retry them. A resource without a service is rejected with all its records.

Answers follow OTLP/HTTP: 200 with an Export*ServiceResponse in the request's encoding once Kafka
acknowledged the message and the dead letters; 400 with a google.rpc.Status for a body that is not such a
request; 413 when what is forwarded is larger than one Kafka message may be; 415 for other content types;
503 (retryable) when Kafka did not take it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from aiohttp import web
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aiops.core import metrics
from aiops.core.deadletter import dead_letter_topic
from aiops.core.settings import Settings
from aiops.core.topics import OTLP_LOGS, OTLP_SPANS
from connectors.dead_letters import dead_letter_record
from connectors.errors import KafkaUnavailable
from connectors.kafka_producer import Record
from connectors.serving import PRODUCER, SETTINGS, bridge_app
from streams.ingest.errors import IngestError
from streams.ingest.otlp import judge_request, parse_request, to_otlp_json
from streams.ingest.otlp_wire import subset
from streams.ingest.verdicts import Rejected

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ENCODINGS = {PROTOBUF: "otlp_proto", "application/protobuf": "otlp_proto", JSON: "otlp_json"}
_GRPC_CODES = {400: code_pb2.INVALID_ARGUMENT, 401: code_pb2.UNAUTHENTICATED, 413: code_pb2.RESOURCE_EXHAUSTED,
               503: code_pb2.UNAVAILABLE}


@dataclass(frozen=True)
class Signal:
    topic: str
    request: type[Message]
    response: type[Message]
    items: str  # what one request carries, for counting
    rejected_field: str  # the partial-success counter of the response

    def count(self, message: Message) -> int:
        if isinstance(message, ExportTraceServiceRequest):
            return sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
        return sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)


SIGNALS = {
    "/v1/traces": Signal(OTLP_SPANS, ExportTraceServiceRequest, ExportTraceServiceResponse, "spans",
                         "rejected_spans"),
    "/v1/logs": Signal(OTLP_LOGS, ExportLogsServiceRequest, ExportLogsServiceResponse, "log records",
                       "rejected_log_records"),
}


def _request_encoding(request: web.Request) -> str:
    return ENCODINGS.get(request.content_type, "otlp_proto")


def _answer(request: web.Request, message: Message, status: int = 200) -> web.Response:
    if _request_encoding(request) == "otlp_json":
        return web.Response(body=to_otlp_json(message) if message.ListFields() else b"{}", status=status,
                            content_type=JSON)
    return web.Response(body=message.SerializeToString(), status=status, content_type=PROTOBUF)


def _error(request: web.Request, status: int, message: str) -> web.Response:
    """An OTLP error answer: a google.rpc.Status in the request's encoding."""
    code = _GRPC_CODES.get(status, code_pb2.UNKNOWN)
    if _request_encoding(request) == "otlp_json":
        body = json.dumps({"code": code, "message": message}).encode("utf-8")
        response = web.Response(body=body, status=status, content_type=JSON)
    else:
        response = web.Response(body=status_pb2.Status(code=code, message=message).SerializeToString(),
                                status=status, content_type=PROTOBUF)
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _partial_success(signal: Signal, rejected: list[Rejected]) -> Message:
    response = signal.response()
    if rejected:
        setattr(response.partial_success, signal.rejected_field, sum(r.records for r in rejected))
        reasons = "; ".join(r.describe()[:300] for r in rejected[:3])
        more = f" (and {len(rejected) - 3} more)" if len(rejected) > 3 else ""
        response.partial_success.error_message = f"{reasons}{more}"
    return response


async def export(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    signal = SIGNALS[request.path]
    if request.content_type not in ENCODINGS:
        return web.Response(status=415, text=f"unsupported content type {request.content_type!r}; "
                                             f"send {PROTOBUF} or {JSON}")
    encoding = ENCODINGS[request.content_type]
    body = await request.read()
    try:
        message = parse_request(body, signal.request, encoding, settings.connect_max_request_bytes)
    except IngestError as exc:
        return _error(request, 400, exc.reason)
    if signal.count(message) == 0:  # OTLP: an empty request is answered with success
        return _answer(request, signal.response())
    verdicts = list(judge_request(message, settings, encoding))  # type: ignore[arg-type]
    rejected = [v.rejected for v in verdicts if v.rejected is not None]
    if rejected:
        message = subset(message, [path for v in verdicts if v.record is not None for path in v.paths])
    topic = settings.topic(signal.topic)
    records: list[Record] = []
    if signal.count(message):
        wanted = encoding if settings.otlp_receiver_encoding == "as_received" else settings.otlp_receiver_encoding
        if wanted == "otlp_json":
            value = to_otlp_json(message)
        else:
            value = body if encoding == "otlp_proto" and not rejected else message.SerializeToString()
        if len(value) > settings.ingest_max_message_bytes:
            return _error(request, 413, f"request is {len(value)} bytes as a Kafka message, over the "
                                        f"{settings.ingest_max_message_bytes}-byte limit; export smaller batches")
        records.append((None, value))
    letters = [dead_letter_record(r, settings, topic, request.path) for r in rejected]
    try:
        if records:
            await request.app[PRODUCER].send_all(topic, records)
        if letters:
            await request.app[PRODUCER].send_all(dead_letter_topic(topic), letters)
    except KafkaUnavailable as exc:
        log.warning("OTLP %s not taken by Kafka: %s", signal.items, exc)
        return _error(request, 503, f"Kafka did not take the {signal.items}, retry later: {exc}")
    for _ in letters:
        metrics.DEAD_LETTERS.labels(topic, "RejectedRecord").inc()
    return _answer(request, _partial_success(signal, rejected))


def create_app(settings: Settings) -> web.Application:
    """The receiver as an aiohttp app; its Kafka producer starts and stops with the app."""
    app = bridge_app(settings, "aiops-otlp-receiver", _error)
    for path in SIGNALS:
        app.router.add_post(path, export)
    return app
