"""OTLP requests judged record by record, and what canonical records keep of them: resource attributes by their
semantic-convention names, the instrumentation scope, span events (exceptions) and links."""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aiops.core.settings import Settings
from streams.ingest import decode_logs, decode_spans
from streams.ingest.otlp import to_otlp_json
from streams.records import Placement
from tests.streams.ingest import samples

NOW = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)
K8S = {"service.namespace": "shop", "service.version": "2.4.1", "service.instance.id": "payments-7d9f-x2",
       "deployment.environment.name": "prod", "host.name": "node-17", "k8s.namespace.name": "shop-prod",
       "k8s.pod.name": "payments-api-7d9f-x2", "k8s.node.name": "node-17", "cloud.region": "eu-west-1"}


def batched_logs(big_bytes: int = 74_000) -> ExportLogsServiceRequest:
    """What the Collector's batching makes: three healthy services (100 records) and one 74 KB record merged."""
    request = ExportLogsServiceRequest()
    for service, count in (("orders-api", 40), ("cart-api", 30), ("payments-api", 30)):
        part = samples.logs_request(*[f"{service} line {i}" for i in range(count)], service=service, resource=K8S)
        request.resource_logs.extend(part.resource_logs)
    big = samples.logs_request("x" * big_bytes, service="search-api", resource={"k8s.pod.name": "search-1"})
    request.resource_logs.insert(2, big.resource_logs[0])
    return request


def test_one_oversized_record_is_rejected_alone_with_its_service_and_position():
    settings = Settings()
    for encode in (lambda r: r.SerializeToString(), to_otlp_json):
        decoded = decode_logs(encode(batched_logs()), settings, now=NOW)
        assert len(decoded) == 100 and {r.service for r in decoded} == {"orders-api", "cart-api", "payments-api"}
        [rejected] = decoded.rejected
        assert rejected.describe() == ("resourceLogs[2].scopeLogs[0].logRecords[0] (service search-api): field "
                                       "'message' is 74000 bytes, over the 65536-byte limit")
        # Its dead letter holds that record alone, in the message's own encoding, readable on its own.
        alone = decode_logs(rejected.original, Settings(ingest_max_field_bytes=100_000), now=NOW)
        assert [(r.service, len(r.message), r.resource.k8s_pod) for r in alone] == [("search-api", 74_000,
                                                                                      "search-1")]
        assert rejected.original[:1] == (b"{" if encode is to_otlp_json else b"\n")


def test_resource_without_service_is_rejected_once_for_all_its_records():
    request = ExportTraceServiceRequest()
    request.resource_spans.extend(samples.trace_request(samples.otlp_span(), samples.otlp_span(span_id="1" * 16),
                                                        service="", resource={"host.name": "h"}).resource_spans)
    request.resource_spans.extend(samples.trace_request(samples.otlp_span()).resource_spans)
    decoded = decode_spans(request.SerializeToString(), Settings())
    assert len(decoded) == 1 and [r.records for r in decoded.rejected] == [2]
    assert decoded.rejected[0].describe() == \
        "resourceSpans[0]: no service: none of resource attributes service.name, service, job, app"


def test_resource_attributes_and_scope_are_kept():
    request = samples.logs_request("payment provider timeout", service="payments-api", resource=K8S)
    request.resource_logs[0].scope_logs[0].scope.name = "io.opentelemetry.logback"
    request.resource_logs[0].scope_logs[0].scope.version = "2.10.0"
    [record] = decode_logs(request.SerializeToString(), Settings(), now=NOW)
    resource = record.resource
    assert (resource.service_namespace, resource.service_version, resource.service_instance_id) == \
        ("shop", "2.4.1", "payments-7d9f-x2")
    assert (resource.deployment_environment, resource.host_name, resource.k8s_namespace, resource.k8s_pod,
            resource.k8s_node) == ("prod", "node-17", "shop-prod", "payments-api-7d9f-x2", "node-17")
    assert resource.attributes["cloud.region"] == "eu-west-1" and resource.attributes["service.name"] == \
        "payments-api"
    assert (record.scope.name, record.scope.version) == ("io.opentelemetry.logback", "2.10.0")
    assert Placement.of(record.service, resource) == Placement(
        service="payments-api", environment="prod", namespace="shop-prod", pod="payments-api-7d9f-x2",
        node="node-17", host="node-17", version="2.4.1")
    # The older attribute name for the environment is read too.
    old = samples.logs_request("x", resource={"deployment.environment": "staging"})
    assert decode_logs(old.SerializeToString(), Settings(), now=NOW)[0].resource.deployment_environment == "staging"


def test_span_events_with_exceptions_and_links_are_kept():
    span = samples.otlp_span(status=2, message="payment declined")
    event = span.events.add(name="exception", time_unix_nano=samples.T0_NANOS + 1_000_000)
    event.attributes.extend([samples._kv("exception.type", "java.net.SocketTimeoutException"),
                             samples._kv("exception.message", "Read timed out"),
                             samples._kv("exception.stacktrace", "java.net.SocketTimeoutException: Read timed out\n"
                                                                 "\tat PaymentsClient.charge(PaymentsClient.java:88)")])
    span.events.add(name="retry", time_unix_nano=samples.T0_NANOS + 2_000_000)
    link = span.links.add(trace_id=bytes.fromhex("ab" * 16), span_id=bytes.fromhex("cd" * 8))
    link.attributes.append(samples._kv("messaging.operation", "process"))
    request = samples.trace_request(span, service="payments-api", resource=K8S)
    for value in (request.SerializeToString(), to_otlp_json(request)):
        [decoded] = decode_spans(value, Settings())
        assert [e.name for e in decoded.events] == ["exception", "retry"]
        exception = decoded.exception
        assert exception.attributes["exception.type"] == "java.net.SocketTimeoutException"
        assert exception.attributes["exception.stacktrace"].endswith("(PaymentsClient.java:88)")
        assert exception.time == datetime(2026, 11, 26, 10, 0, 0, 1000, tzinfo=UTC)
        assert [(x.trace_id, x.span_id, x.attributes) for x in decoded.links] == [
            ("ab" * 16, "cd" * 8, {"messaging.operation": "process"})]
        assert decoded.resource.k8s_pod == "payments-api-7d9f-x2"


def test_a_bad_link_rejects_only_its_span():
    bad = samples.otlp_span(span_id="2" * 16)
    bad.links.add(trace_id=b"\x01\x02", span_id=bytes.fromhex("cd" * 8))
    decoded = decode_spans(samples.trace_request(samples.otlp_span(), bad).SerializeToString(), Settings())
    assert len(decoded) == 1 and [r.describe() for r in decoded.rejected] == [
        "resourceSpans[0].scopeSpans[0].spans[1] (service orders-api): links[0].traceId: expected 16 bytes, got 2"]
