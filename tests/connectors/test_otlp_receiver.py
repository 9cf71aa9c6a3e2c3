"""The OTLP/HTTP receiver: the real opentelemetry-sdk exporters send spans and logs to `aiops connect otlp`,
the bytes land on otlp_spans / otlp_logs as the Collector's Kafka exporter writes them, and the normalize
worker decodes them. Plus the receiver's answers: 400, 401, 413, 415, 503 and the encodings."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aiops.core.avro import SingleObjectCodec
from aiops.core.settings import Settings
from aiops.demo.local_services import free_port
from connectors import otlp_receiver, serving
from streams.ingest.otlp import to_otlp_json
from streams.records import LogRecord, Severity, Span
from tests.kafka_io import TopicReader
from tests.processes import AIOPS, bridge_env, running
from tests.samples import SCHEMAS
from tests.streams.ingest import samples

pytestmark = pytest.mark.integration


def spans_in(value: bytes | None) -> list:
    """The spans of a protobuf request; none for anything else (other tests write hostile messages here)."""
    try:
        request = ExportTraceServiceRequest.FromString(value or b"")
    except DecodeError:
        return []
    return [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]


def log_records_in(value: bytes | None) -> list:
    try:
        request = ExportLogsServiceRequest.FromString(value or b"")
    except DecodeError:
        return []
    return [record for r in request.resource_logs for s in r.scope_logs for record in s.log_records]


def test_sdk_exporters_through_the_receiver_to_canonical_records(settings, normalize_worker, tmp_path):
    service = f"shop-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = bridge_env(settings.kafka_bootstrap, normalize_worker.prefix)
    with running([AIOPS, "connect", "otlp", "--port", str(port)], tmp_path / "receiver.log",
                 f"http://127.0.0.1:{port}/healthz", env=env):
        resource = Resource.create({"service.name": service, "deployment.environment": "test"})
        sent = InMemorySpanExporter()
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(SimpleSpanProcessor(sent))
        tracer_provider.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=10)))
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}/v1/logs", compression=Compression.Gzip, timeout=10)))
        tracer = tracer_provider.get_tracer("checkout")
        logger = logger_provider.get_logger("checkout")
        with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER):
            with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT,
                                              attributes={"peer.service": "acmepay", "retries": 2}) as charge:
                logger.emit(body="payment provider timeout after 30s", severity_number=SeverityNumber.ERROR,
                            severity_text="ERROR", attributes={"provider": "acmepay"})
                charge.set_status(StatusCode.ERROR, "provider timeout")
        tracer_provider.shutdown()
        logger_provider.shutdown()
    finished = {format(s.context.span_id, "016x"): s for s in sent.get_finished_spans()}
    trace_id = format(next(iter(finished.values())).context.trace_id, "032x")

    # The bytes on otlp_spans are ExportTraceServiceRequests, one per export (as the SDK sent them).
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_spans")) as raw:
        got = raw.wait_until(lambda rs: {s.span_id.hex() for r in rs for s in spans_in(r.value)} >= set(finished), 30,
                           "the SDK's spans on otlp_spans")
    assert all(r.key is None for r in got if {s.span_id.hex() for s in spans_in(r.value)} & set(finished))

    codec = SingleObjectCodec(SCHEMAS["Span"])
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.spans")) as reader:
        got = reader.wait_until(lambda rs: sum(r.key == trace_id.encode() for r in rs) >= 2, 60, "2 spans",
                              diagnostics=normalize_worker.logs)
    spans = {s.name: s for s in (Span.from_avro(codec.decode(r.value)) for r in got if r.key == trace_id.encode())}
    server, client = spans["POST /checkout"], spans["charge card"]
    assert server.service == client.service == service and server.kind == "server" and client.kind == "client"
    assert client.parent_span_id == server.span_id and client.peer_service == "acmepay"
    assert (client.status, client.status_message) == ("error", "provider timeout")
    assert client.attributes == {"peer.service": "acmepay", "retries": "2"}
    assert client.duration_ms == pytest.approx((finished[client.span_id].end_time
                                                - finished[client.span_id].start_time) / 1e6)

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_logs")) as raw:
        got = raw.wait_until(lambda rs: any(service.encode() in (r.value or b"") for r in rs), 30,
                           "the SDK's log record on otlp_logs")
    [exported] = [record for r in got if service.encode() in (r.value or b"") for record in log_records_in(r.value)]
    assert exported.body.string_value == "payment provider timeout after 30s"
    assert exported.severity_number == SeverityNumber.ERROR.value and exported.span_id.hex() == client.span_id

    codec = SingleObjectCodec(SCHEMAS["LogRecord"])
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs")) as reader:
        got = reader.wait_until(lambda rs: any(r.key == service.encode() for r in rs), 60, "the SDK's log record")
    [record] = [LogRecord.from_avro(codec.decode(r.value)) for r in got if r.key == service.encode()]
    assert record.message == "payment provider timeout after 30s" and record.severity is Severity.error
    assert (record.trace_id, record.span_id) == (trace_id, client.span_id)  # emitted inside the client span
    assert record.attributes == {"provider": "acmepay"} and record.source == "otlp"


@asynccontextmanager
async def receiver(settings: Settings) -> AsyncIterator[str]:
    runner, port = await serving.start(otlp_receiver.create_app(settings), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as session, session.post(
            url, data=body, headers={"Content-Type": content_type, **headers}) as resp:
        return resp.status, resp.content_type, await resp.read()


def receiver_settings(settings: Settings, prefix: str, **overrides) -> Settings:
    return Settings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=prefix, **overrides)


async def test_encodings_written_and_answered(settings, normalize_worker):
    marker = f"enc-{uuid.uuid4().hex[:8]}"
    request = samples.trace_request(samples.otlp_span(name=marker, trace_id=samples.random_hex(16)))
    proto, as_json = request.SerializeToString(), to_otlp_json(request)
    async with receiver(receiver_settings(settings, normalize_worker.prefix)) as url:
        status, content_type, body = await post(f"{url}/v1/traces", proto, "application/x-protobuf")
        assert (status, content_type) == (200, "application/x-protobuf")
        assert ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()
        status, content_type, body = await post(f"{url}/v1/traces", gzip.compress(as_json), "application/json",
                                                **{"Content-Encoding": "gzip"})
        assert (status, content_type, json.loads(body)) == (200, "application/json", {})
    async with receiver(receiver_settings(settings, normalize_worker.prefix, otlp_receiver_encoding="otlp_proto")) \
            as url:
        assert (await post(f"{url}/v1/traces", as_json, "application/json"))[0] == 200
        empty = ExportLogsServiceRequest().SerializeToString()
        assert (await post(f"{url}/v1/logs", empty, "application/x-protobuf"))[0] == 200  # nothing to write

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_spans")) as raw:
        got = raw.wait_until(lambda rs: sum(marker.encode() in (r.value or b"") for r in rs) >= 3, 30, "3 requests")
    values = [r.value for r in got if marker.encode() in (r.value or b"")]
    assert values[0] == proto  # protobuf as received: the exact bytes
    assert json.loads(values[1]) == json.loads(as_json)  # JSON as received: OTLP/JSON with hex ids
    assert ExportTraceServiceRequest.FromString(values[2]) == request  # re-encoded per the setting


async def test_refusals(settings):
    async with receiver(receiver_settings(settings, "unused.")) as url:
        status, content_type, body = await post(f"{url}/v1/traces", b"\x0a\x05abc", "application/x-protobuf")
        assert (status, content_type) == (400, "application/x-protobuf")
        error = status_pb2.Status.FromString(body)
        assert error.code == code_pb2.INVALID_ARGUMENT
        assert error.message == "not an OTLP ExportTraceServiceRequest: protobuf parse error (Wire format was corrupt)"
        status, content_type, body = await post(f"{url}/v1/logs", b'{"resourceLogs": 3}', "application/json")
        assert (status, content_type) == (400, "application/json")
        assert json.loads(body)["message"].startswith("not an OTLP ExportLogsServiceRequest (JSON)")
        status, _, body = await post(f"{url}/v1/traces", b"<xml/>", "text/xml")
        assert status == 415 and b"application/x-protobuf" in body
        async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/metrics") as resp:
            assert resp.status == 404

    small = receiver_settings(settings, "unused.", ingest_max_message_bytes=2048)
    async with receiver(small) as url:
        big = samples.trace_request(samples.otlp_span(name="n" * 4000)).SerializeToString()
        status, _, body = await post(f"{url}/v1/traces", big, "application/x-protobuf")
        assert status == 413 and "2048-byte limit" in status_pb2.Status.FromString(body).message

    secured = receiver_settings(settings, "unused.", connect_bearer_token="t0ken")
    async with receiver(secured) as url:
        status, _, body = await post(f"{url}/v1/traces", samples.trace_request().SerializeToString(),
                                     "application/x-protobuf")
        assert status == 401 and status_pb2.Status.FromString(body).code == code_pb2.UNAUTHENTICATED


async def test_kafka_unreachable_gets_503(settings):
    unreachable = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", connect_kafka_timeout_s=1.5)
    async with receiver(unreachable) as url:
        async with aiohttp.ClientSession() as session, session.post(
                f"{url}/v1/traces", data=samples.trace_request().SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"}) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"] == "5"
            error = status_pb2.Status.FromString(await resp.read())
        assert error.code == code_pb2.UNAVAILABLE and "_MSG_TIMED_OUT" in error.message


async def test_partial_success_forwards_the_good_records_and_dead_letters_the_bad_one(settings, normalize_worker):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    from aiops.core.deadletter import ERROR_MESSAGE, ORIGINAL_POSITION, ORIGINAL_SERVICE
    from tests.streams.ingest.test_otlp_records import batched_logs

    tag = uuid.uuid4().hex[:8]
    request = batched_logs()
    for resource_logs in request.resource_logs:
        for kv in resource_logs.resource.attributes:
            if kv.key == "service.name":
                kv.value.string_value = f"{kv.value.string_value}-{tag}"
    async with receiver(receiver_settings(settings, normalize_worker.prefix)) as url:
        status, _, body = await post(f"{url}/v1/logs", request.SerializeToString(), "application/x-protobuf")
        assert status == 200
        answer = ExportLogsServiceResponse.FromString(body)
        assert answer.partial_success.rejected_log_records == 1
        assert answer.partial_success.error_message == (
            f"resourceLogs[2].scopeLogs[0].logRecords[0] (service search-api-{tag}): field 'message' is 74000 bytes, "
            "over the 65536-byte limit")
        status, _, body = await post(f"{url}/v1/logs", to_otlp_json(request), "application/json")
        assert (status, json.loads(body)["partialSuccess"]["rejectedLogRecords"]) == (200, "1")

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_logs.dlq")) as dlq:
        got = dlq.wait_until(lambda rs: sum(r.headers.get(ORIGINAL_SERVICE) == f"search-api-{tag}" for r in rs) == 2,
                           30, "the oversized record's dead letters")
    letter = next(r for r in got if r.headers.get(ORIGINAL_SERVICE) == f"search-api-{tag}")
    assert letter.headers[ORIGINAL_POSITION] == "resourceLogs[2].scopeLogs[0].logRecords[0]"
    assert "74000 bytes" in letter.headers[ERROR_MESSAGE]
    assert len(log_records_in(letter.value)) == 1
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs")) as canonical:
        canonical.wait_until(lambda rs: sum(r.key.decode().endswith(tag) for r in rs if r.key) == 200, 60,
                           "the 100 good records of both requests", diagnostics=normalize_worker.logs)
