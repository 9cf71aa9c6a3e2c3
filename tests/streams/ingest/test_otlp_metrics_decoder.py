"""OTLP metrics (otlp_proto and otlp_json) into canonical MetricPoints, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from aiops.core.settings import Settings
from streams.ingest.errors import IngestError
from streams.ingest.otlp import to_otlp_json
from streams.ingest.otlp_metrics import decode_metrics
from streams.records import MetricKind

SETTINGS = Settings()
NANOS = 1_795_000_000_000_000_000


def request() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    resource = req.resource_metrics.add()
    for key, value in (("service.name", "orders-api"), ("k8s.pod.name", "orders-api-7d9f-x2")):
        attribute = resource.resource.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    metrics = resource.scope_metrics.add().metrics
    gauge = metrics.add(name="k8s.pod.cpu_limit_utilization", unit="1")
    gauge.gauge.data_points.add(time_unix_nano=NANOS, as_double=0.42)
    counter = metrics.add(name="http.server.requests", unit="1")
    counter.sum.is_monotonic = True
    counter.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    counter.sum.data_points.add(time_unix_nano=NANOS, as_int=1200)
    histogram = metrics.add(name="http.server.request.duration", unit="s")
    histogram.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    histogram.histogram.data_points.add(time_unix_nano=NANOS, count=4, sum=1.0)
    return req


def test_proto_and_json_decode_to_the_same_points():
    from_proto = decode_metrics(request().SerializeToString(), SETTINGS)
    from_json = decode_metrics(to_otlp_json(request()), SETTINGS)
    assert from_proto == from_json
    cpu, counter, histogram = from_proto
    assert (cpu.service, cpu.instance, cpu.kind, cpu.value) == ("orders-api", "orders-api-7d9f-x2",
                                                                 MetricKind.gauge, 0.42)
    assert (counter.kind, counter.value, counter.delta) == (MetricKind.counter, 1200.0, False)
    assert (histogram.kind, histogram.value, histogram.count, histogram.delta) == (MetricKind.histogram, 1.0, 4, True)
    assert cpu.time.timestamp() == NANOS / 1e9


@pytest.mark.parametrize("value, reason", [
    (b"\x0a\xff\xff", "protobuf parse error"),
    (b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "gauge": {"dataPoints": '
     b'[{"asDouble": 1}]}}]}]}]}', "no service"),
    (b'{"resourceMetrics": []}', "holds no data points"),
])
def test_bad_messages_get_a_reason(value, reason):
    with pytest.raises(IngestError, match=reason):
        decode_metrics(value, SETTINGS)


def test_a_point_without_a_time_is_refused():
    body = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name",
                                                              "value": {"stringValue": "a"}}]},
                                 "scopeMetrics": [{"metrics": [{"name": "x", "gauge": {"dataPoints": [
                                     {"asDouble": 1}]}}]}]}]}
    with pytest.raises(IngestError, match="timeUnixNano: missing"):
        decode_metrics(json.dumps(body).encode(), SETTINGS)
