"""normalize_spans: OTLP traces on otlp_spans → aiops.spans, keyed by trace id."""

from __future__ import annotations

import faust

from aiops.core.topics import OTLP_SPANS, SPANS
from streams.agents.normalizer import Normalizer, add_normalizer
from streams.app import StreamContext
from streams.ingest.otlp import decode_spans


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    if settings.canonical_lines == "off":  # the condensers read the raw inputs themselves
        return
    add_normalizer(app, ctx, Normalizer(
        name="normalize_spans", source=OTLP_SPANS, sink=SPANS, record="Span",
        decode=lambda value: decode_spans(value, settings), key=lambda span: span.trace_id,
    ))
