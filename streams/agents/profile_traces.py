"""profile_traces: canonical spans (aiops.spans) and the log events of their requests (aiops.log_events), both
keyed by trace id, condensed by streams/anomaly/traces.py into per-service span statistics per event-time bucket
(aiops.span_stats, keyed by service), the dependency edges and a few failed spans as evidence (aiops.signals).

One agent reads both topics, so a trace's spans and log lines meet in the same process. The open traces and
buckets are held in memory: a crash loses the statistics of the last few seconds, never an incident's evidence
already sent."""

from __future__ import annotations

from typing import Any

import faust

from aiops.core.deadletter import DeadLetter, decode_or_letter
from aiops.core.topics import LOG_EVENTS, SPAN_STATS, SPANS
from streams.anomaly.records import LogEvent, SpanStats
from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
from streams.app import StreamContext
from streams.records import Span
from streams.topics import Input, SignalsTopic, raw_topic

POLL_EVERY_RECORDS = 200
POLL_INTERVAL_S = 0.5


def register(app: faust.App, ctx: StreamContext) -> None:
    if ctx.settings.canonical_lines == "off":  # at line rate, the span condenser and profile_operations instead
        return
    settings = ctx.settings
    spans = Input.declare(app, ctx, SPANS, ctx.decoder(Span, SPANS))
    log_events = Input.declare(app, ctx, LOG_EVENTS, lambda value: LogEvent.model_validate_json(value or b""))
    inputs: dict[str, Input[Any]] = {spans.topic.get_topic_name(): spans, log_events.topic.get_topic_name(): log_events}
    both = app.topic(*inputs, key_serializer="raw", value_serializer="raw")
    stats_topic = raw_topic(app, ctx, SPAN_STATS)
    signals = SignalsTopic.declare(app, ctx)
    condenser = TraceCondenser(TraceCondenserConfig.from_settings(settings))

    async def send(stats: list[SpanStats]) -> None:
        for item in stats:
            await stats_topic.send(key=item.service.encode(), value=item.model_dump_json().encode())
        for signal in condenser.drain_errors():
            await signals.send(signal)

    @app.agent(both, name="profile_traces")
    async def profile_traces(stream: faust.StreamT) -> None:
        seen = 0
        async for event in stream.events():
            source = inputs[event.message.topic]
            decoded = decode_or_letter(source.decode, event.message)
            if isinstance(decoded, DeadLetter):
                await source.dead_letter(decoded)
                continue
            if isinstance(decoded, Span):
                condenser.add_span(decoded)
            else:
                condenser.add_log(decoded)
            seen += 1
            if seen % POLL_EVERY_RECORDS == 0:
                await send(condenser.poll())

    @app.timer(interval=POLL_INTERVAL_S, name="close_span_buckets")
    async def close_span_buckets() -> None:
        await send(condenser.poll())

    @app.timer(interval=settings.edge_flush_s, name="send_dependency_edges")
    async def send_dependency_edges() -> None:
        for signal in condenser.drain_edges():
            await signals.send(signal)
