"""normalize_alerts: aiops.alerts.raw (Alertmanager webhook / alert, generic JSON) → aiops.alerts, keyed by service."""

from __future__ import annotations

import faust

from aiops.core.topics import ALERTS, RAW_ALERTS
from streams.agents.normalizer import Normalizer, add_normalizer
from streams.app import StreamContext
from streams.ingest.alerts import decode_alerts


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    add_normalizer(app, ctx, Normalizer(
        name="normalize_alerts", source=RAW_ALERTS, sink=ALERTS, record="Alert",
        decode=lambda value: decode_alerts(value, settings), key=lambda alert: alert.service,
    ))
