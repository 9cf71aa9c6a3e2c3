"""A real OpenTelemetry Collector (built with ocb, `aiops stack which otelcol`): OTLP receiver → batch processor
→ Kafka exporter, with each compression codec, in both encodings, into the normalize worker. The batch processor
merges the requests of four services into one Kafka message, one of them holding a 74 KB log record: every
record arrives as a canonical record, with its resource attributes, or has its own dead letter naming its
service and position."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import ERROR_MESSAGE, ORIGINAL_POSITION, ORIGINAL_SERVICE
from aiops.demo.local_services import free_port
from aiops.stack import components
from streams.ingest.otlp import decode_logs
from streams.records import LogRecord, Span
from tests.kafka_io import TopicReader
from tests.processes import log_tail
from tests.samples import SCHEMAS
from tests.streams.ingest import samples
from tests.streams.ingest.test_otlp_records import K8S

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = [(codec, encoding) for codec in ("gzip", "snappy", "lz4", "zstd") for encoding in ("otlp_proto", "otlp_json")]


def collector_config(port: int, bootstrap: str, prefix: str, codec: str, encoding: str) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
processors:
  batch:
    timeout: 2s
    send_batch_size: 100000
exporters:
  kafka:
    brokers: [{bootstrap}]
    logs: {{topic: {prefix}otlp_logs, encoding: {encoding}}}
    traces: {{topic: {prefix}otlp_spans, encoding: {encoding}}}
    producer:
      compression: {codec}
      required_acks: -1
      max_message_bytes: 1000000
service:
  telemetry:
    logs: {{level: warn}}
    metrics: {{level: none}}
  pipelines:
    logs: {{receivers: [otlp], processors: [batch], exporters: [kafka]}}
    traces: {{receivers: [otlp], processors: [batch], exporters: [kafka]}}
"""


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, body, {"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start_collector(binary: Path, config: Path, log: Path, port: int):
    import subprocess

    process = subprocess.Popen([str(binary), f"--config={config}"], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while True:  # ready when its OTLP receiver takes an (empty) export
        try:
            if post(f"http://127.0.0.1:{port}/v1/logs", ExportLogsServiceRequest().SerializeToString()) == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the collector did not start:\n{log_tail(log)}")
        time.sleep(0.2)


def stop(process) -> None:
    import os
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def otelcol(settings) -> Path:
    return components.binary(settings, "otelcol")


@pytest.mark.parametrize(("codec", "encoding"), CASES)
def test_collector_with_each_codec_and_encoding_into_the_worker(settings, normalize_worker, otelcol, tmp_path, codec,
                                                                encoding):
    tag = f"{codec}-{encoding[5:]}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    config = tmp_path / "otelcol.yaml"
    config.write_text(collector_config(port, settings.kafka_bootstrap, normalize_worker.prefix, codec, encoding))
    healthy = {"orders-api": 40, "cart-api": 30, "payments-api": 30}
    requests = [samples.logs_request(*[f"{service} line {i} {tag}" for i in range(count)],
                                     service=f"{service}-{tag}", resource=K8S) for service, count in healthy.items()]
    requests.insert(2, samples.logs_request("x" * 74_000, service=f"search-api-{tag}",
                                            resource={"k8s.pod.name": "search-1"}))
    span = samples.otlp_span(name=f"GET /pay {tag}", trace_id=samples.random_hex(16), status=2, message="declined")
    event = span.events.add(name="exception", time_unix_nano=samples.T0_NANOS + 1000)
    event.attributes.extend([samples._kv("exception.type", "CardDeclined"),
                             samples._kv("exception.stacktrace", "CardDeclined\n  at pay()")])
    traces = samples.trace_request(span, service=f"payments-api-{tag}", resource=K8S)

    process = start_collector(otelcol, config, tmp_path / "otelcol.log", port)
    try:
        for request in requests:  # four exports within the batch timeout: one Kafka message
            assert post(f"http://127.0.0.1:{port}/v1/logs", request.SerializeToString()) == 200
        assert post(f"http://127.0.0.1:{port}/v1/traces", traces.SerializeToString()) == 200

        with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_logs")) as raw:
            got = raw.wait_until(lambda rs: any(tag.encode() in (r.value or b"") for r in rs), 60,
                               "the collector's logs message", diagnostics=lambda: log_tail(tmp_path / "otelcol.log"))
        ours = [r for r in got if tag.encode() in (r.value or b"")]
        merged = decode_logs(ours[0].value, settings.model_copy(update={"ingest_max_field_bytes": 100_000}))
        assert len({r.service for r in merged}) >= 2, "batching merged several services into one message"

        codec_log = SingleObjectCodec(SCHEMAS["LogRecord"])
        with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs")) as canonical:
            got = canonical.wait_until(lambda rs: sum(r.key.decode().endswith(tag) for r in rs if r.key) >= 100, 60,
                                     "100 canonical log records", diagnostics=normalize_worker.logs)
        records = [LogRecord.from_avro(codec_log.decode(r.value)) for r in got
                   if r.key and r.key.decode().endswith(tag)]
        assert len(records) == 100 and {r.service for r in records} == {f"{s}-{tag}" for s in healthy}
        assert all(r.resource.k8s_pod == K8S["k8s.pod.name"] and r.resource.deployment_environment == "prod"
                   and r.resource.service_version == "2.4.1" and r.resource.attributes["cloud.region"] == "eu-west-1"
                   for r in records)

        with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("otlp_logs.dlq")) as dlq:
            got = dlq.wait_until(lambda rs: any(r.headers.get(ORIGINAL_SERVICE) == f"search-api-{tag}" for r in rs),
                               60, "the oversized record's dead letter")
        [letter] = [r for r in got if r.headers.get(ORIGINAL_SERVICE) == f"search-api-{tag}"]
        assert letter.headers[ORIGINAL_POSITION].startswith("resourceLogs[")
        assert "field 'message' is 74000 bytes" in letter.headers[ERROR_MESSAGE]
        alone = ExportLogsServiceRequest.FromString(letter.value) if encoding == "otlp_proto" else None
        assert alone is None or sum(len(s.log_records) for r in alone.resource_logs for s in r.scope_logs) == 1

        codec_span = SingleObjectCodec(SCHEMAS["Span"])
        with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.spans")) as canonical:
            got = canonical.wait_until(lambda rs: any(tag.encode() in (r.value or b"") for r in rs), 60, "the span")
        [decoded] = [Span.from_avro(codec_span.decode(r.value)) for r in got if tag.encode() in (r.value or b"")]
        assert decoded.resource.k8s_node == "node-17" and decoded.exception.attributes["exception.type"] == \
            "CardDeclined"
    finally:
        stop(process)
    assert normalize_worker.alive
