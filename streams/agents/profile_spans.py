"""profile_spans: canonical spans (aiops.spans, keyed by trace id) → error/slow span signals and the
dependency edges the correlator groups by. Operation baselines are a table, so they survive restarts."""

from __future__ import annotations

import faust

from aiops.core.errors import SerializationError
from streams.agents._deadletters import dead_letter
from streams.agents.forward_alerts import SCOPE
from streams.app import StreamContext
from streams.correlation.signals import encode_signal
from streams.correlation.spans import SpanProfileConfig, SpanProfiler
from streams.records import Span


def register(app: faust.App, ctx: StreamContext) -> None:
    s = ctx.settings
    spans_topic = app.topic(ctx.topic("aiops.spans"), key_serializer="raw", value_serializer="raw")
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.signals.dlq"), key_serializer="raw", value_serializer="raw")
    codec = ctx.codec("Span", "aiops.spans")
    operation_to_baseline = app.Table("operation_to_baseline")
    profiler = SpanProfiler(SpanProfileConfig(slow_factor=s.span_slow_factor, min_samples=s.span_min_samples),
                            operation_to_baseline)

    @app.agent(spans_topic, name="profile_spans")
    async def profile_spans(stream):
        async for event in stream.events():
            try:
                span = Span.from_avro(codec.decode(event.value))
            except (SerializationError, ValueError) as exc:
                await dead_letter(dlq, event, exc)
                continue
            for signal in profiler.observe(span):
                await signals_topic.send(key=SCOPE, value=encode_signal(signal))

    @app.timer(interval=s.edge_flush_s, name="send_dependency_edges")
    async def send_dependency_edges():
        for signal in profiler.drain_edges():
            await signals_topic.send(key=SCOPE, value=encode_signal(signal))
