"""What the OpenTelemetry Collector's Kafka exporter writes to otlp_metrics (otlp_proto or otlp_json), read into
canonical MetricPoints: one per data point of a gauge, a sum (counter) or a histogram.

Histograms keep their count and sum (the mean is what the metric stage judges); exponential histograms and
summaries likewise. The instance is the first of k8s.pod.name, container.name, host.name, service.instance.id
found on the data point or the resource.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from aiops.core.settings import Settings
from streams.ingest.errors import IngestError
from streams.ingest.fields import check_fields
from streams.ingest.otlp import _resource_service, attributes_text, parse_request
from streams.ingest.times import from_unix_nanos
from streams.ingest.validation import build
from streams.records import MetricKind, MetricPoint

INSTANCE_ATTRIBUTES = ("k8s.pod.name", "container.name", "host.name", "service.instance.id")
_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def _instance(point_attributes: dict[str, str], resource_attributes: dict[str, str]) -> str | None:
    for name in INSTANCE_ATTRIBUTES:
        if point_attributes.get(name):
            return point_attributes[name]
        if resource_attributes.get(name):
            return resource_attributes[name]
    return None


def _points(metric: Any) -> list[tuple[Any, MetricKind, float, int | None, bool]]:
    """(data point, kind, value, count, delta) for each data point of one metric."""
    data = metric.WhichOneof("data")
    if data == "gauge":
        return [(p, MetricKind.gauge, _number(p), None, False) for p in metric.gauge.data_points]
    if data == "sum":
        delta = metric.sum.aggregation_temporality == _DELTA
        kind = MetricKind.counter if metric.sum.is_monotonic else MetricKind.gauge
        return [(p, kind, _number(p), None, delta and kind == MetricKind.counter) for p in metric.sum.data_points]
    if data in ("histogram", "exponential_histogram"):
        body = getattr(metric, data)
        delta = body.aggregation_temporality == _DELTA
        return [(p, MetricKind.histogram, p.sum, int(p.count), delta) for p in body.data_points]
    if data == "summary":
        return [(p, MetricKind.histogram, p.sum, int(p.count), False) for p in metric.summary.data_points]
    return []


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def decode_metrics(value: bytes | None, settings: Settings) -> list[MetricPoint]:
    """One message on otlp_metrics into canonical points (all of them, or IngestError for the whole message)."""
    request = parse_request(value, ExportMetricsServiceRequest, settings.otlp_encoding,
                            settings.ingest_max_message_bytes)
    points = []
    for ri, resource_metrics in enumerate(request.resource_metrics):
        resource = attributes_text(resource_metrics.resource.attributes)
        service: str | None = None
        for si, scope_metrics in enumerate(resource_metrics.scope_metrics):
            for mi, metric in enumerate(scope_metrics.metrics):
                for pi, (point, kind, number, count, delta) in enumerate(_points(metric)):
                    if service is None:
                        service = _resource_service(resource, settings, f"resourceMetrics[{ri}]")
                    where = f"resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}].dataPoints[{pi}]"
                    if not point.time_unix_nano:
                        raise IngestError(f"{where}.timeUnixNano: missing")
                    attributes = attributes_text(point.attributes)
                    points.append(check_fields(build(
                        MetricPoint, where, service=service, instance=_instance(attributes, resource),
                        name=metric.name, unit=metric.unit, kind=kind, value=number, count=count, delta=delta,
                        time=from_unix_nanos(point.time_unix_nano), attributes=attributes,
                    ), settings.ingest_max_field_bytes))
    if not points:
        raise IngestError("ExportMetricsServiceRequest holds no data points")
    return points
