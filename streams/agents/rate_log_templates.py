"""rate_log_templates: template counts (aiops.logs.condensed, from `aiops condense logs`) → log signals for
templates that surge against their baseline or are new at error level.

The template ids come from the condensing process's miners; the rates per service live in memory and are
saved to a changelog-backed table every few records, so a restarted worker resumes with the same baselines."""

from __future__ import annotations

import time

import faust
import msgspec

from streams.agents._deadletters import dead_letter
from streams.app import StreamContext
from streams.condense.records import LogTemplateCount, decode_condensed
from streams.condense.to_signals import LogTemplateJudge, signal_key
from streams.correlation.signals import encode_signal
from streams.logtemplates.rates import RateConfig

PERSIST_EVERY_RECORDS = 20
PERSIST_EVERY_S = 2.0


class NotALogTemplateCountError(ValueError):
    """A condensed record of another kind on the log topic."""


def register(app: faust.App, ctx: StreamContext) -> None:
    condensed_topic = app.topic(ctx.topic("aiops.logs.condensed"), key_serializer="raw", value_serializer="raw")
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.logs.condensed.dlq"), key_serializer="raw", value_serializer="raw")
    judge = LogTemplateJudge(RateConfig.from_settings(ctx.settings), app.Table("service_to_rates"))
    dirty: dict[str, int] = {}
    persisted_at = {"at": time.monotonic()}

    @app.agent(condensed_topic, name="rate_log_templates")
    async def rate_log_templates(stream):
        async for event in stream.events():
            try:
                record = decode_condensed(event.value)
                if not isinstance(record, LogTemplateCount):
                    raise NotALogTemplateCountError(f"expected a log_template record, got {type(record).__name__}")
            except (msgspec.MsgspecError, ValueError) as exc:
                await dead_letter(dlq, event, exc)
                continue
            for signal in judge.observe(record):
                await signals_topic.send(key=signal_key(record.scope), value=encode_signal(signal))
            dirty[record.service] = dirty.get(record.service, 0) + 1
            if dirty[record.service] >= PERSIST_EVERY_RECORDS or \
                    time.monotonic() - persisted_at["at"] >= PERSIST_EVERY_S:
                for service in dirty:
                    judge.save(service)
                dirty.clear()
                persisted_at["at"] = time.monotonic()
