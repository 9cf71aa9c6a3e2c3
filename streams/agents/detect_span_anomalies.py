"""detect_span_anomalies: per-service span statistics (aiops.span_stats) judged against each service's baselines
(streams/anomaly/span_detector.py, a changelog-backed table) → anomaly signals on aiops.signals."""

from __future__ import annotations

import faust

from aiops.core.topics import SPAN_STATS
from streams.anomaly.records import SpanStats
from streams.anomaly.span_detector import SpanAnomalyDetector, SpanDetectorConfig
from streams.app import StreamContext
from streams.topics import Input, SignalsTopic


def register(app: faust.App, ctx: StreamContext) -> None:
    stats = Input.declare(app, ctx, SPAN_STATS, lambda value: SpanStats.model_validate_json(value or b""))
    signals = SignalsTopic.declare(app, ctx)
    detector = SpanAnomalyDetector(SpanDetectorConfig.from_settings(ctx.settings),
                                   app.Table("service_to_span_baselines"))

    @app.agent(stats.topic, name="detect_span_anomalies")
    async def detect_span_anomalies(stream: faust.StreamT) -> None:
        async for _message, bucket in stats.decoded(stream):
            for signal in detector.observe(bucket):
                await signals.send(signal)
