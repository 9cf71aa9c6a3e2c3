"""normalize_logs: JSON log lines on aiops.logs.raw and OTLP logs on otlp_logs → aiops.logs, keyed by service."""

from __future__ import annotations

import faust

from aiops.core.topics import LOGS, OTLP_LOGS, RAW_LOGS
from streams.agents.normalizer import Normalizer, add_normalizer
from streams.app import StreamContext
from streams.ingest.logs import decode_log_line
from streams.ingest.otlp import decode_logs


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    if settings.canonical_lines == "off":  # the condensers read the raw inputs themselves
        return
    add_normalizer(app, ctx, Normalizer(
        name="normalize_log_lines", source=RAW_LOGS, sink=LOGS, record="LogRecord",
        decode=lambda value: [decode_log_line(value, settings)], key=lambda record: record.service,
    ))
    add_normalizer(app, ctx, Normalizer(
        name="normalize_otlp_logs", source=OTLP_LOGS, sink=LOGS, record="LogRecord",
        decode=lambda value: decode_logs(value, settings), key=lambda record: record.service,
    ))
