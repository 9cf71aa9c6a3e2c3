"""mine_log_templates: canonical log lines (aiops.logs, keyed by service) → drain3 templates per service →
log signals for templates that surge against their baseline or are new at error level
(streams/logtemplates/tracker.py holds the logic and its snapshots in two changelog-backed tables), and each
line that names a trace as a log event (its event type, trace and span) to aiops.log_events, keyed by trace id,
where the trace stage meets it with its spans."""

from __future__ import annotations

import faust

from aiops.core.topics import LOG_EVENTS, LOGS
from streams.app import StreamContext
from streams.logtemplates.events import log_event
from streams.logtemplates.miner import MinerConfig
from streams.logtemplates.rates import RateConfig
from streams.logtemplates.tracker import TemplateTracker
from streams.records import LogRecord
from streams.topics import Input, SignalsTopic, raw_topic


def register(app: faust.App, ctx: StreamContext) -> None:
    if ctx.settings.canonical_lines == "off":  # at line rate, the log condenser and rate_log_templates instead
        return
    logs = Input.declare(app, ctx, LOGS, ctx.decoder(LogRecord, LOGS))
    signals = SignalsTopic.declare(app, ctx)
    events_topic = raw_topic(app, ctx, LOG_EVENTS)
    location_fields = ctx.settings.log_code_location_fields
    tracker = TemplateTracker(MinerConfig.from_settings(ctx.settings), RateConfig.from_settings(ctx.settings),
                              service_to_miner=app.Table("service_to_miner"),
                              service_to_rates=app.Table("service_to_rates"))

    @app.agent(logs.topic, name="mine_log_templates")
    async def mine_log_templates(stream: faust.StreamT) -> None:
        async for _message, record in logs.decoded(stream):
            match, found = tracker.observe_line(record)
            for signal in found:
                await signals.send(signal)
            event = log_event(record, match, location_fields)
            if event is not None:
                await events_topic.send(key=event.trace_id.encode(), value=event.model_dump_json().encode())
