"""A Faust sensor that feeds the product's Prometheus metrics: records in and out per topic, consumer lag."""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors import Sensor

from aiops.core import metrics


class PrometheusSensor(Sensor):
    """Counts every record an agent reads and every record the app produces, without touching agent code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.positions: dict[Any, int] = {}

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        metrics.RECORDS_IN.labels(tp.topic).inc()
        self.positions[tp] = offset

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        topic = getattr(metadata, "topic", None)
        if topic:
            metrics.RECORDS_OUT.labels(topic).inc()


def install(app: faust.App, lag_interval_s: float = 1.0) -> PrometheusSensor:
    sensor = PrometheusSensor()
    app.sensors.add(sensor)

    @app.timer(interval=lag_interval_s, name="report_consumer_lag")
    async def report_consumer_lag() -> None:
        for tp, offset in list(sensor.positions.items()):
            highwater = app.consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - offset - 1))

    return sensor
