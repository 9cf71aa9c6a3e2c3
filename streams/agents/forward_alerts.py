"""forward_alerts: canonical alerts (aiops.alerts) onto the correlator's signal topic."""

from __future__ import annotations

import faust

from aiops.core.errors import SerializationError
from streams.agents._deadletters import dead_letter
from streams.app import StreamContext
from streams.correlation.signals import AlertSignal, encode_signal
from streams.records import Alert

SCOPE = b"all"  # one correlation scope; see README "Scaling"


def register(app: faust.App, ctx: StreamContext) -> None:
    alerts_topic = app.topic(ctx.topic("aiops.alerts"), key_serializer="raw", value_serializer="raw")
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.signals.dlq"), key_serializer="raw", value_serializer="raw")
    codec = ctx.codec("Alert", "aiops.alerts")

    @app.agent(alerts_topic, name="forward_alerts")
    async def forward_alerts(stream):
        async for event in stream.events():
            try:
                alert = Alert.from_avro(codec.decode(event.value))
            except (SerializationError, ValueError) as exc:
                await dead_letter(dlq, event, exc)
                continue
            await signals_topic.send(key=SCOPE, value=encode_signal(AlertSignal(alert=alert)))
