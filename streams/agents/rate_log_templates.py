"""rate_log_templates: template counts (aiops.logs.condensed, from the log condensing stage) → log signals
for templates that surge against their baseline or are new at error level (streams/condense/to_signals.py).

The template ids come from the condensing process's miners; the rates per service are saved to a
changelog-backed table every few records, so a restarted worker resumes with the same baselines."""

from __future__ import annotations

import time

import faust

from aiops.core.topics import LOGS_CONDENSED
from streams.app import StreamContext
from streams.condense.records import LogTemplateCount, decode_as
from streams.condense.to_signals import LogTemplateJudge
from streams.logtemplates.rates import RateConfig
from streams.topics import Input, SignalsTopic

PERSIST_EVERY_RECORDS = 20
PERSIST_EVERY_S = 2.0


def register(app: faust.App, ctx: StreamContext) -> None:
    if ctx.settings.canonical_lines == "all":  # per line, mine_logs mines and rates the lines instead
        return
    counts = Input.declare(app, ctx, LOGS_CONDENSED, decode_as(LogTemplateCount))
    signals = SignalsTopic.declare(app, ctx)
    judge = LogTemplateJudge(RateConfig.from_settings(ctx.settings), app.Table("condensed_service_to_rates"))
    dirty: dict[str, int] = {}
    persisted_at = [time.monotonic()]

    @app.agent(counts.topic, name="rate_log_templates")
    async def rate_log_templates(stream: faust.StreamT) -> None:
        async for _message, record in counts.decoded(stream):
            for signal in judge.observe(record):
                await signals.send(signal, scope=record.scope)
            dirty[record.service] = dirty.get(record.service, 0) + 1
            if dirty[record.service] >= PERSIST_EVERY_RECORDS or time.monotonic() - persisted_at[0] >= PERSIST_EVERY_S:
                for service in dirty:
                    judge.save(service)
                dirty.clear()
                persisted_at[0] = time.monotonic()
