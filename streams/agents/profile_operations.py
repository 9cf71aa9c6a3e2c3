"""profile_operations: operation stats and call edges (aiops.spans.condensed, from `aiops condense spans`)
→ error and slow span signals against each operation's baseline, and the dependency edges the correlator
groups by. The baselines are a table, so they survive restarts."""

from __future__ import annotations

import faust
import msgspec

from streams.agents._deadletters import dead_letter
from streams.app import StreamContext
from streams.condense.records import CallEdge, OperationStats, decode_condensed
from streams.condense.to_signals import OperationBaselines, OperationConfig, edge_signal, signal_key
from streams.correlation.signals import encode_signal


class NotASpanRecordError(ValueError):
    """A condensed record of another kind on the span topic."""


def register(app: faust.App, ctx: StreamContext) -> None:
    s = ctx.settings
    condensed_topic = app.topic(ctx.topic("aiops.spans.condensed"), key_serializer="raw", value_serializer="raw")
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.spans.condensed.dlq"), key_serializer="raw", value_serializer="raw")
    baselines = OperationBaselines(OperationConfig(slow_factor=s.span_slow_factor, min_samples=s.span_min_samples),
                                   app.Table("operation_to_baseline"))

    @app.agent(condensed_topic, name="profile_operations")
    async def profile_operations(stream):
        async for event in stream.events():
            try:
                record = decode_condensed(event.value)
                if isinstance(record, OperationStats):
                    signals = baselines.observe(record)
                elif isinstance(record, CallEdge):
                    signals = [edge_signal(record)]
                else:
                    raise NotASpanRecordError(f"expected an operation or edge record, got {type(record).__name__}")
            except (msgspec.MsgspecError, ValueError) as exc:
                await dead_letter(dlq, event, exc)
                continue
            for signal in signals:
                await signals_topic.send(key=signal_key(record.scope), value=encode_signal(signal))
