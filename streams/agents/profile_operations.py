"""profile_operations: operation stats, call edges and per-service span statistics (aiops.spans.condensed, from
the span condensing stage) → error and slow span signals against each operation's baseline and the dependency
edges the correlator groups by (streams/condense/to_signals.py), and the span statistics on to aiops.span_stats,
where detect_span_anomalies judges them as in the per-line mode. The baselines are a table, so they survive
restarts."""

from __future__ import annotations

import faust
import msgspec

from aiops.core.topics import SPAN_STATS, SPANS_CONDENSED
from streams.app import StreamContext
from streams.condense.records import CallEdge, OperationStats, ServiceSpanStats, decode_as
from streams.condense.to_signals import OperationBaselines, OperationConfig, edge_signal
from streams.topics import Input, SignalsTopic, raw_topic


def register(app: faust.App, ctx: StreamContext) -> None:
    if ctx.settings.canonical_lines == "all":  # per line, profile_traces reads whole traces instead
        return
    s = ctx.settings
    records = Input.declare(app, ctx, SPANS_CONDENSED, decode_as(OperationStats, CallEdge, ServiceSpanStats))
    signals = SignalsTopic.declare(app, ctx)
    stats_topic = raw_topic(app, ctx, SPAN_STATS)
    baselines = OperationBaselines(OperationConfig(slow_factor=s.span_slow_factor, min_samples=s.span_min_samples),
                                   app.Table("operation_to_baseline"))

    @app.agent(records.topic, name="profile_operations")
    async def profile_operations(stream: faust.StreamT) -> None:
        async for _message, record in records.decoded(stream):
            if isinstance(record, ServiceSpanStats):  # already the detector's input: JSON SpanStats
                await stats_topic.send(key=record.service.encode(), value=msgspec.json.encode(record.stats))
                continue
            found = baselines.observe(record) if isinstance(record, OperationStats) else [edge_signal(record)]
            for signal in found:
                await signals.send(signal, scope=record.scope)
