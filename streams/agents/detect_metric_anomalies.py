"""detect_metric_anomalies: canonical metric points (aiops.metrics, keyed by service) condensed per series and
bucket and judged against robust baselines (streams/metrics/detector.py, a changelog-backed table) → anomaly
signals on aiops.signals."""

from __future__ import annotations

import faust

from aiops.core.topics import METRICS
from streams.app import StreamContext
from streams.metrics.detector import MetricAnomalyDetector, MetricDetectorConfig
from streams.metrics.semconv import roles_from_settings
from streams.records import MetricPoint
from streams.topics import Input, SignalsTopic


def register(app: faust.App, ctx: StreamContext) -> None:
    points = Input.declare(app, ctx, METRICS, ctx.decoder(MetricPoint, METRICS))
    signals = SignalsTopic.declare(app, ctx)
    detector = MetricAnomalyDetector(MetricDetectorConfig.from_settings(ctx.settings),
                                     app.Table("service_to_metric_baselines"),
                                     roles_from_settings(ctx.settings.rca_metric_roles))

    @app.agent(points.topic, name="detect_metric_anomalies")
    async def detect_metric_anomalies(stream: faust.StreamT) -> None:
        async for _message, point in points.decoded(stream):
            for signal in detector.observe(point):
                await signals.send(signal)
