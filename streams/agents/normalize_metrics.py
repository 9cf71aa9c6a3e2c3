"""normalize_metrics: OTLP metrics on otlp_metrics → aiops.metrics (a MetricPoint per data point), keyed by service."""

from __future__ import annotations

import faust

from aiops.core.topics import METRICS, OTLP_METRICS
from streams.agents.normalizer import Normalizer, add_normalizer
from streams.app import StreamContext
from streams.ingest.otlp_metrics import decode_metrics


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    add_normalizer(app, ctx, Normalizer(
        name="normalize_metrics", source=OTLP_METRICS, sink=METRICS, record="MetricPoint",
        decode=lambda value: decode_metrics(value, settings), key=lambda point: point.service,
    ))
