"""profile_operations: operation stats, call edges and per-service span statistics (aiops.spans.condensed, from
the span condensing stage) → error and slow span signals against each operation's baseline and the dependency
edges the correlator groups by (streams/condense/to_signals.py), and the span statistics on to aiops.span_stats,
where detect_span_anomalies judges them as in the per-line mode (merged per bucket first: they come in parts).
The baselines are a table, so they survive restarts."""

from __future__ import annotations

import faust

from aiops.core.topics import SPAN_STATS, SPANS_CONDENSED
from streams.anomaly.records import SpanStats
from streams.app import StreamContext
from streams.condense.records import CallEdge, OperationStats, ServiceSpanStats, decode_as
from streams.condense.spans import IDLE_FLUSHES
from streams.condense.to_signals import OperationBaselines, OperationConfig, ServiceStatsBuckets, edge_signal
from streams.topics import Input, SignalsTopic, raw_topic

POLL_INTERVAL_S = 0.5


def register(app: faust.App, ctx: StreamContext) -> None:
    if ctx.settings.canonical_lines == "all":  # per line, profile_traces reads whole traces instead
        return
    s = ctx.settings
    records = Input.declare(app, ctx, SPANS_CONDENSED, decode_as(OperationStats, CallEdge, ServiceSpanStats))
    signals = SignalsTopic.declare(app, ctx)
    stats_topic = raw_topic(app, ctx, SPAN_STATS)
    baselines = OperationBaselines(OperationConfig(slow_factor=s.span_slow_factor, min_samples=s.span_min_samples),
                                   app.Table("operation_to_baseline"))
    buckets = ServiceStatsBuckets(grace_s=s.rca_bucket_grace_s, idle_s=IDLE_FLUSHES * s.condense_flush_s)

    async def pass_on(closed: list[SpanStats]) -> None:
        for stats in closed:
            await stats_topic.send(key=stats.service.encode(), value=stats.model_dump_json().encode())

    @app.agent(records.topic, name="profile_operations")
    async def profile_operations(stream: faust.StreamT) -> None:
        async for _message, record in records.decoded(stream):
            if isinstance(record, ServiceSpanStats):  # the detector's input, in parts: merged per bucket first
                await pass_on(buckets.add(record))
                continue
            found = baselines.observe(record) if isinstance(record, OperationStats) else [edge_signal(record)]
            for signal in found:
                await signals.send(signal, scope=record.scope)

    @app.timer(interval=POLL_INTERVAL_S, name="close_service_stats")
    async def close_service_stats() -> None:
        await pass_on(buckets.poll())
