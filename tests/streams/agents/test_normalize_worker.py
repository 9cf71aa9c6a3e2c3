"""The normalize worker on the real broker: kcat-produced JSON log lines, OTLP request bytes in both
encodings, Alertmanager payloads and generic alerts, into canonical Avro records and dead letters."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import (
    ERROR_CLASS,
    ERROR_MESSAGE,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    VALUE_TRUNCATED,
)
from aiops.core.settings import Settings
from streams.ingest import decode_logs, decode_spans
from streams.ingest.otlp import to_otlp_json
from streams.records import Alert, LogRecord, Severity, Span
from tests.kafka_io import TopicReader, produce
from tests.samples import SCHEMAS
from tests.streams.ingest import samples
from tests.streams.ingest.samples import to_json_bytes

pytestmark = pytest.mark.integration


def canonical(record_type, value: bytes):
    return record_type.from_avro(SingleObjectCodec(SCHEMAS[record_type.__name__]).decode(value))


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (scripts/setup.sh installs it)")
def test_kcat_json_log_lines(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    vector = samples.vector_line(kubernetes={"container_name": f"orders-api-{tag}", "pod_name": "p-1"})
    fluentbit = samples.fluentbit_line(kubernetes={"labels": {"app.kubernetes.io/name": f"cart-{tag}"}})
    plain = {"ts": 1795687202123, "msg": "cache miss storm", "service": f"web-{tag}", "level": 40}
    no_service = {"message": f"orphan {tag}", "host": "node-1"}
    lines = [f"{tag}\t{to_json_bytes(doc).decode()}" for doc in (vector, fluentbit, plain, no_service)]
    lines.append(f"{tag}\t{{not json {tag}")
    topic = normalize_worker.topic("aiops.logs.raw")
    subprocess.run(["kcat", "-P", "-b", settings.kafka_bootstrap, "-t", topic, "-K", "\t"],
                   input="\n".join(lines).encode(), check=True, timeout=60)

    services = {f"orders-api-{tag}", f"cart-{tag}", f"web-{tag}"}
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs")) as logs:
        got = logs.wait_until(lambda rs: {r.key.decode() for r in rs if r.key} >= services, 60, "3 log records",
                            diagnostics=normalize_worker.logs)
    records = {r.key.decode(): canonical(LogRecord, r.value) for r in got if r.key and r.key.decode() in services}
    by_vector = records[f"orders-api-{tag}"]
    assert by_vector.source == "vector" and by_vector.severity is Severity.error
    assert by_vector.message == vector["message"] and by_vector.trace_id == samples.TRACE_ID
    assert by_vector.time == datetime(2026, 11, 26, 10, 0, 1, 123456, tzinfo=UTC)
    by_fluentbit = records[f"cart-{tag}"]
    assert by_fluentbit.source == "fluentbit" and by_fluentbit.severity is Severity.warning
    assert by_fluentbit.time == datetime(2026, 11, 26, 10, 0, 1, 250000, tzinfo=UTC)
    by_plain = records[f"web-{tag}"]
    assert by_plain.message == "cache miss storm" and by_plain.severity is Severity.warning
    assert by_plain.time == datetime(2026, 11, 26, 10, 0, 2, 123000, tzinfo=UTC)

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs.raw.dlq")) as dlq:
        letters = dlq.wait_until(lambda rs: sum(r.key == tag.encode() for r in rs) >= 2, 60, "2 dead letters")
    mine = sorted((r for r in letters if r.key == tag.encode()), key=lambda r: int(r.headers[ORIGINAL_OFFSET]))
    assert [r.value for r in mine] == [to_json_bytes(no_service), f"{{not json {tag}".encode()]
    assert mine[0].headers[ERROR_MESSAGE].startswith("no service: none of fields service, service.name")
    assert mine[1].headers[ERROR_MESSAGE] == "invalid JSON at line 1 column 2: Expecting property name enclosed " \
                                             "in double quotes"
    for letter in mine:
        assert letter.headers[ERROR_CLASS] == "IngestError" and letter.headers[ORIGINAL_TOPIC] == topic
        assert letter.headers[ORIGINAL_PARTITION] == "0" and letter.headers[ORIGINAL_OFFSET].isdigit()


def test_otlp_request_bytes_in_both_encodings_decode_to_the_same_records(settings, normalize_worker):
    service = f"orders-api-{uuid.uuid4().hex[:8]}"
    traces = samples.trace_request(
        samples.otlp_span(trace_id=samples.random_hex(16)),
        samples.otlp_span("SELECT orders", trace_id=samples.random_hex(16), span_id=samples.random_hex(8),
                          kind=OtlpSpan.SPAN_KIND_CLIENT, status=Status.STATUS_CODE_ERROR, message="deadlock",
                          attributes={"db.system": "postgresql", "db.name": "orders"}),
        service=service)
    logs = samples.logs_request("pool exhausted", "retrying", service=service)
    bootstrap = settings.kafka_bootstrap
    produce(bootstrap, normalize_worker.topic("otlp_spans"),
                  [(None, traces.SerializeToString()), (None, to_otlp_json(traces))])
    produce(bootstrap, normalize_worker.topic("otlp_logs"),
                  [(None, logs.SerializeToString()), (None, to_otlp_json(logs))])

    expected_spans = decode_spans(traces.SerializeToString(), Settings())
    with TopicReader(bootstrap, normalize_worker.topic("aiops.spans")) as reader:
        got = reader.wait_until(lambda rs: sum(canonical(Span, r.value).service == service for r in rs) >= 4, 60,
                              "4 spans", diagnostics=normalize_worker.logs)
    spans = [(r.key, canonical(Span, r.value)) for r in got if canonical(Span, r.value).service == service]
    assert sorted(spans, key=lambda ks: ks[1].span_id) == sorted(
        [(s.trace_id.encode(), s) for s in expected_spans] * 2, key=lambda ks: ks[1].span_id)
    assert {s.peer_service for _, s in spans} == {None, "orders"}

    with TopicReader(bootstrap, normalize_worker.topic("aiops.logs")) as reader:
        got = reader.wait_until(lambda rs: sum(r.key == service.encode() for r in rs) >= 4, 60, "4 log records")
    records = [canonical(LogRecord, r.value) for r in got if r.key == service.encode()]
    from_proto = decode_logs(logs.SerializeToString(), Settings())
    for record in records:  # the observed time is in the request: the same however often it is decoded
        assert record in from_proto
    assert sorted(r.message for r in records) == ["pool exhausted", "pool exhausted", "retrying", "retrying"]


def test_alertmanager_payload_and_generic_alert(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    payload = samples.webhook_payload(samples.webhook_alert(service=f"orders-db-{tag}"),
                                      {**samples.webhook_alert(service=f"payments-db-{tag}"), "status": "resolved",
                                       "endsAt": "2026-11-26T10:20:00Z", "fingerprint": f"fp-{tag}"})
    generic = samples.generic_alert(service=f"checkout-{tag}")
    produce(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw"),
                  [(b"k", to_json_bytes(payload)), (None, to_json_bytes(generic))])
    wanted = {f"orders-db-{tag}", f"payments-db-{tag}", f"checkout-{tag}"}
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as reader:
        got = reader.wait_until(lambda rs: {r.key.decode() for r in rs if r.key} >= wanted, 60, "3 alerts",
                              diagnostics=normalize_worker.logs)
    alerts = {r.key.decode(): canonical(Alert, r.value) for r in got if r.key and r.key.decode() in wanted}
    assert alerts[f"orders-db-{tag}"].fingerprint == "3f2a9c1d0b7e6a55"
    assert alerts[f"orders-db-{tag}"].status == "firing" and alerts[f"orders-db-{tag}"].ends_at is None
    resolved = alerts[f"payments-db-{tag}"]
    assert (resolved.status, resolved.fingerprint) == ("resolved", f"fp-{tag}")
    assert resolved.ends_at == datetime(2026, 11, 26, 10, 20, tzinfo=UTC)
    assert alerts[f"checkout-{tag}"].source == "generic" and alerts[f"checkout-{tag}"].severity is Severity.error


def test_message_too_large_to_copy_still_gets_a_dead_letter(settings, normalize_worker):
    """Larger than the worker's producer may send (1 MB here): the dead letter carries its first 64 KiB and
    names its size and where it stays."""
    key = f"huge-{uuid.uuid4().hex[:8]}".encode()
    huge = b'{"message": "' + b"x" * 1_040_000 + b'"}'
    [(partition, offset)] = produce(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs.raw"),
                                          [(key, huge)])
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs.raw.dlq")) as dlq:
        got = dlq.wait_until(lambda rs: any(r.key == key for r in rs), 60, "the dead letter",
                           diagnostics=normalize_worker.logs)
    [letter] = [r for r in got if r.key == key]
    assert letter.value == huge[:65_536]
    # Over every consumer's per-record limit (AIOPS_MAX_RECORD_BYTES) too: refused before it is decoded at all.
    assert letter.headers[ERROR_MESSAGE] == (f"record of {len(huge) + len(key)} bytes is larger than this "
                                             "consumer's limit of 1000000 bytes; not decoded")
    assert (letter.headers[ORIGINAL_PARTITION], letter.headers[ORIGINAL_OFFSET]) == (str(partition), str(offset))
    assert letter.headers[VALUE_TRUNCATED] == f"{len(huge)} bytes, first 65536 copied"
    assert normalize_worker.alive
