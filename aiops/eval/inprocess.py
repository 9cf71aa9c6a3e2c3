"""The pipeline's stages in one process, without Kafka: a development aid for tuning detectors quickly.

The same pure code the Faust agents call, in the same order (decode, mine templates, condense traces, judge
spans and metrics, correlate), fed one recording in event-time order with the wall clock following the
recording. It is not the pipeline: no topics, no partitions, no worker. `aiops eval rca` measures the real
pipeline; `--in-process` runs this instead, to see in seconds what a change to a detector does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aiops.core.settings import Settings
from aiops.core.topics import OTLP_LOGS, OTLP_METRICS, OTLP_SPANS, RAW_ALERTS, RAW_LOGS
from aiops.eval.cases import Case
from streams.anomaly.span_detector import SpanAnomalyDetector, SpanDetectorConfig
from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
from streams.correlation.engine import CorrelationConfig, Correlator, Tables
from streams.correlation.outputs import Snapshot
from streams.correlation.signals import AlertSignal, TickSignal
from streams.ingest.alerts import decode_alerts
from streams.ingest.errors import IngestError
from streams.ingest.logs import decode_log_line
from streams.ingest.otlp import decode_logs, decode_spans
from streams.ingest.otlp_metrics import decode_metrics
from streams.logtemplates.events import log_event
from streams.logtemplates.miner import MinerConfig
from streams.logtemplates.rates import RateConfig
from streams.logtemplates.tracker import TemplateTracker
from streams.metrics.detector import MetricAnomalyDetector, MetricDetectorConfig
from streams.metrics.semconv import roles_from_settings


class InProcessPipeline:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.clock = 0.0
        self.tracker = TemplateTracker(MinerConfig.from_settings(settings), RateConfig.from_settings(settings),
                                       service_to_miner={}, service_to_rates={}, clock=lambda: self.clock)
        self.condenser = TraceCondenser(TraceCondenserConfig.from_settings(settings), wall=lambda: self.clock)
        self.spans = SpanAnomalyDetector(SpanDetectorConfig.from_settings(settings), {})
        self.metrics = MetricAnomalyDetector(MetricDetectorConfig.from_settings(settings), {},
                                             roles_from_settings(settings.rca_metric_roles))
        self.correlator = Correlator(CorrelationConfig.from_settings(settings), Tables())
        self.snapshots: list[dict[str, Any]] = []
        self.dead_letters = 0
        self.signals: list[Any] = []

    def _signal(self, signal: Any) -> None:
        self.signals.append(signal)
        for output in self.correlator.handle(signal, self.clock):
            if isinstance(output, Snapshot):
                self.snapshots.append(output.record)

    def _condensed(self) -> None:
        for stats in self.condenser.poll():
            for anomaly in self.spans.observe(stats):
                self._signal(anomaly)
        for found in [*self.condenser.drain_errors(), *self.condenser.drain_edges()]:
            self._signal(found)

    def _decode(self, topic: str, value: bytes) -> Iterator[tuple[str, Any]]:
        s = self.settings
        if topic == OTLP_SPANS:
            yield from (("span", x) for x in decode_spans(value, s))
        elif topic == OTLP_LOGS:
            yield from (("log", x) for x in decode_logs(value, s))
        elif topic == RAW_LOGS:
            yield "log", decode_log_line(value, s)
        elif topic == OTLP_METRICS:
            yield from (("metric", x) for x in decode_metrics(value, s))
        elif topic == RAW_ALERTS:
            yield from (("alert", x) for x in decode_alerts(value, s))

    def feed(self, record: dict[str, Any]) -> None:
        value = str(record["value_text"]).encode() if "value_text" in record \
            else json.dumps(record["value"]).encode()
        try:
            items = list(self._decode(record["topic"], value))
        except (IngestError, ValueError):
            self.dead_letters += 1
            return
        for kind, item in items:
            if kind == "span":
                self.condenser.add_span(item)
            elif kind == "log":
                match, found = self.tracker.observe_line(item)
                for signal in found:
                    self._signal(signal)
                event = log_event(item, match, self.settings.log_code_location_fields)
                if event is not None:
                    self.condenser.add_log(event)
            elif kind == "metric":
                for metric_signal in self.metrics.observe(item):
                    self._signal(metric_signal)
            else:
                self._signal(AlertSignal(alert=item))

    def run(self, case: Case, tail_s: float = 60.0) -> list[dict[str, Any]]:
        """Feed a case's records in order (the wall clock follows them), then let it idle for `tail_s`."""
        next_tick = 0.0
        for record in case.records:
            self.clock = float(record["at"])
            self.feed(record)
            while self.clock >= next_tick:
                self._condensed()
                self._signal(TickSignal(now=self.clock))
                next_tick += 1.0
        end = self.clock
        while self.clock < end + tail_s:
            self.clock += 1.0
            self._condensed()
            self._signal(TickSignal(now=self.clock))
        return self.snapshots
