"""Condensing metric series into per-bucket values and judging them against robust baselines.

A series is one metric of one instance (pod, container, host) of a service. Its points are averaged per
event-time bucket (counters become rates, histograms their mean); when a series moves on to a newer bucket,
the finished bucket is learned into the series' median/MAD baseline (unless it was anomalous). Each point
judges its bucket so far. State per service is a JSON-compatible dict, for a Faust table.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.anomaly.baseline import BaselineConfig, RobustBaseline
from streams.correlation.signals import AnomalySignal
from streams.metrics.semconv import MetricRole, role_of
from streams.records import MetricKind, MetricPoint


@dataclass(frozen=True)
class MetricDetectorConfig:
    bucket_s: int = 15
    baseline: BaselineConfig = BaselineConfig(size=60, min_values=4, accept_after=15)
    z_min: float = 4.0

    @classmethod
    def from_settings(cls, settings: Any) -> MetricDetectorConfig:
        return cls(bucket_s=settings.rca_metric_bucket_s, z_min=settings.rca_z_min)


def _series_value(point: MetricPoint, previous: dict[str, Any] | None) -> float | None:
    """The quantity judged: a gauge's value, a counter's rate per second, a histogram's mean."""
    if point.kind == MetricKind.gauge:
        return point.value
    if point.kind == MetricKind.histogram:
        if point.delta:
            return point.value / point.count if point.count else None
        if not previous:
            return None
        count = (point.count or 0) - previous.get("count", 0)
        total = point.value - previous.get("sum", 0.0)
        return total / count if count > 0 else None
    if point.delta:
        return point.value
    if not previous:
        return None
    seconds = point.time.timestamp() - previous.get("t", point.time.timestamp())
    increase = point.value - previous.get("sum", 0.0)
    return increase / seconds if seconds > 0 and increase >= 0 else None


class MetricAnomalyDetector:
    def __init__(self, config: MetricDetectorConfig, state: MutableMapping[str, Any],
                 roles: Mapping[str, MetricRole] | None = None):
        self.config = config
        self.state = state  # service → {series key → series state}
        self.roles = roles or {}

    def observe(self, point: MetricPoint) -> list[AnomalySignal]:
        role = role_of(point.name, self.roles)
        if role is None:
            return []
        service_state = dict(self.state.get(point.service) or {})
        key = f"{point.name}|{point.instance or ''}"
        series = dict(service_state.get(key) or {})
        value = _series_value(point, series.get("last"))
        series["last"] = {"t": point.time.timestamp(), "sum": point.value, "count": point.count or 0}
        signals: list[AnomalySignal] = []
        if value is not None:
            signals = self._bucket(point, role, series, value)
        service_state[key] = series
        self.state[point.service] = service_state
        return signals

    def _bucket(self, point: MetricPoint, role: MetricRole, series: dict[str, Any],
                value: float) -> list[AnomalySignal]:
        cfg = self.config
        baseline = RobustBaseline.from_dict(cfg.baseline, series.get("baseline"))
        bucket = int(point.time.timestamp() // cfg.bucket_s) * cfg.bucket_s
        current = series.get("bucket")
        if current is not None and bucket < current["start"]:
            return []  # an older bucket than the one being filled: learned already
        if current is not None and bucket > current["start"]:
            baseline.learn(current["sum"] / current["n"], bool(current.get("anomalous")))
            current = None
        current = current or {"start": bucket, "sum": 0.0, "n": 0}
        current = {**current, "sum": current["sum"] + value, "n": current["n"] + 1}
        mean = current["sum"] / current["n"]
        base = baseline.median
        # Judged in the direction that is bad: a metric whose drop is bad is judged on its negation.
        sign = 1.0 if role.direction == "up" else -1.0
        oriented = RobustBaseline(baseline.config, [sign * v for v in baseline.values])
        z = oriented.z(sign * mean, role.floor, role.floor_rel)
        anomalous = z is not None and base is not None and z >= cfg.z_min
        current["anomalous"] = anomalous
        series["bucket"] = current
        series["baseline"] = baseline.to_dict()
        if not anomalous or base is None or z is None:
            return []
        start = datetime.fromtimestamp(bucket, UTC)
        where = f" on {point.instance}" if point.instance else ""
        score = min(10.0, z / 2.0)
        if role.saturation is not None and mean >= role.saturation:
            score = max(score, 8.0)  # at its limit: as strong as evidence gets
        return [AnomalySignal(
            service=point.service, signal="metric", role="cause" if role.cause else "symptom", subject=point.name,
            score=round(score, 2), value=round(mean, 6), baseline=round(base, 6), unit=point.unit,
            reason=f"{point.name}{where} ({role.role}) is {mean:.3g}{point.unit if point.unit != '1' else ''}, "
                   f"baseline {base:.3g} ({z:.1f} robust deviations {'above' if role.direction == 'up' else 'below'})",
            window_start=start, event_time=point.time)]
