"""profile_spans: canonical spans (aiops.spans, keyed by trace id) → error/slow span signals and the
dependency edges the correlator groups by (streams/correlation/spans.py). Operation baselines are a table,
so they survive restarts."""

from __future__ import annotations

import faust

from aiops.core.topics import SPANS
from streams.app import StreamContext
from streams.correlation.spans import SpanProfileConfig, SpanProfiler
from streams.records import Span
from streams.topics import Input, SignalsTopic


def register(app: faust.App, ctx: StreamContext) -> None:
    s = ctx.settings
    spans = Input.declare(app, ctx, SPANS, ctx.decoder(Span, SPANS))
    signals = SignalsTopic.declare(app, ctx)
    profiler = SpanProfiler(SpanProfileConfig(slow_factor=s.span_slow_factor, min_samples=s.span_min_samples),
                            app.Table("operation_to_baseline"))

    @app.agent(spans.topic, name="profile_spans")
    async def profile_spans(stream: faust.StreamT) -> None:
        async for _message, span in spans.decoded(stream):
            for signal in profiler.observe(span):
                await signals.send(signal)

    @app.timer(interval=s.edge_flush_s, name="send_dependency_edges")
    async def send_dependency_edges() -> None:
        for signal in profiler.drain_edges():
            await signals.send(signal)
