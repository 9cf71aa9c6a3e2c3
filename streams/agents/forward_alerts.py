"""forward_alerts: canonical alerts (aiops.alerts) onto the correlator's signal topic."""

from __future__ import annotations

import faust

from aiops.core.topics import ALERTS
from streams.app import StreamContext
from streams.correlation.signals import AlertSignal
from streams.records import Alert
from streams.scopes import scope_from
from streams.topics import Input, SignalsTopic


def register(app: faust.App, ctx: StreamContext) -> None:
    alerts = Input.declare(app, ctx, ALERTS, ctx.decoder(Alert, ALERTS))
    signals = SignalsTopic.declare(app, ctx)
    scope_labels = list(ctx.settings.correlation_scope_labels)

    @app.agent(alerts.topic, name="forward_alerts")
    async def forward_alerts(stream: faust.StreamT) -> None:
        async for _message, alert in alerts.decoded(stream):
            await signals.send(AlertSignal(alert=alert), scope=scope_from(alert.labels, scope_labels))
