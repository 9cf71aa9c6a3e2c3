"""mine_log_templates: canonical log lines (aiops.logs, keyed by service) → drain3 templates per service →
log signals for templates that surge against their baseline or are new at error level
(streams/logtemplates/tracker.py holds the logic and its snapshots in two changelog-backed tables)."""

from __future__ import annotations

import faust

from aiops.core.topics import LOGS
from streams.app import StreamContext
from streams.logtemplates.miner import MinerConfig
from streams.logtemplates.rates import RateConfig
from streams.logtemplates.tracker import TemplateTracker
from streams.records import LogRecord
from streams.topics import Input, SignalsTopic


def register(app: faust.App, ctx: StreamContext) -> None:
    logs = Input.declare(app, ctx, LOGS, ctx.decoder(LogRecord, LOGS))
    signals = SignalsTopic.declare(app, ctx)
    tracker = TemplateTracker(MinerConfig.from_settings(ctx.settings), RateConfig.from_settings(ctx.settings),
                              service_to_miner=app.Table("service_to_miner"),
                              service_to_rates=app.Table("service_to_rates"))

    @app.agent(logs.topic, name="mine_log_templates")
    async def mine_log_templates(stream: faust.StreamT) -> None:
        async for _message, record in logs.decoded(stream):
            for signal in tracker.observe(record):
                await signals.send(signal)
