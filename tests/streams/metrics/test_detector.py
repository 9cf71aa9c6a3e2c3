"""Metric series condensed per bucket and judged against robust baselines; only metrics with a known meaning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.metrics.detector import MetricAnomalyDetector, MetricDetectorConfig
from streams.metrics.semconv import role_of, roles_from_settings
from streams.records import MetricKind, MetricPoint

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


def point(name: str, value: float, i: int, kind: MetricKind = MetricKind.gauge, count: int | None = None,
          service: str = "orders-api") -> MetricPoint:
    return MetricPoint(service=service, instance=f"{service}-7d9f-x2", name=name, value=value, kind=kind,
                       count=count, time=T0 + timedelta(seconds=15 * i))


def run(points, roles=None) -> list:
    detector = MetricAnomalyDetector(MetricDetectorConfig(bucket_s=15), {}, roles)
    return [s for p in points for s in detector.observe(p)]


def test_cpu_at_its_limit_is_strong_cause_evidence():
    cpu = "k8s.pod.cpu_limit_utilization"
    signals = run([point(cpu, 0.1 + 0.01 * (i % 3), i) for i in range(8)] + [point(cpu, 0.97, 8)])
    assert len(signals) == 1
    signal = signals[0]
    assert signal.role == "cause" and signal.signal == "metric" and signal.score >= 8
    assert "cpu" in signal.reason and "orders-api-7d9f-x2" in signal.reason


def test_a_wobble_within_the_floor_is_not_anomalous():
    cpu = "k8s.pod.cpu_limit_utilization"
    assert run([point(cpu, 0.10, i) for i in range(8)] + [point(cpu, 0.2, 8)]) == []


def test_metrics_without_a_known_meaning_are_not_judged_unless_mapped():
    name = "shop_queue_depth"
    points = [point(name, 10.0, i) for i in range(8)] + [point(name, 5000.0, 8)]
    assert role_of(name) is None and run(points) == []
    roles = roles_from_settings({name: {"role": "saturation", "direction": "up", "floor": 50}})
    assert [s.subject for s in run(points, roles)] == [name]


def test_a_metric_whose_drop_is_bad_is_judged_downwards():
    name = "checkout_success_ratio"
    roles = roles_from_settings({name: {"role": "success", "direction": "down", "floor": 0.05}})
    points = [point(name, 0.99, i) for i in range(8)] + [point(name, 0.4, 8)]
    signals = run(points, roles)
    assert signals and "below" in signals[0].reason


def test_counters_become_rates_and_histograms_means():
    requests = [point("http.server.request.duration", 0.05 * 100 * (i + 1), i, MetricKind.histogram, 100 * (i + 1))
                for i in range(8)]
    slow = point("http.server.request.duration", requests[-1].value + 100 * 2.0, 8, MetricKind.histogram, 900)
    signals = run(requests + [slow])
    assert signals and signals[0].role == "symptom" and abs(signals[0].value - 2.0) < 1e-6
