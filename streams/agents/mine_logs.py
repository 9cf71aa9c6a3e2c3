"""mine_log_templates: canonical log lines (aiops.logs, keyed by service) → drain3 templates per service →
log signals for templates that surge against their baseline or are new at error level.

The miners and the rates are kept per service in memory and snapshotted into tables (changelog-backed)
every few records, so that a restarted worker resumes with the same templates and baselines."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

import faust

from aiops.core.errors import SerializationError
from streams.agents._deadletters import dead_letter
from streams.agents.forward_alerts import SCOPE
from streams.app import StreamContext
from streams.correlation.signals import LogSignal, encode_signal
from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner
from streams.logtemplates.rates import RateConfig, TemplateEvidence, TemplateRates
from streams.records import LogRecord, severity_from_text

PERSIST_EVERY_RECORDS = 50
PERSIST_EVERY_S = 2.0
SIGNAL_COOLDOWN_S = 5.0  # event time between two signals about the same template
MAX_TRACE_IDS = 5


@dataclass
class ServiceLogState:
    miner: ServiceTemplateMiner
    rates: TemplateRates
    dirty: int = 0
    persisted_at: float = field(default_factory=time.monotonic)
    last_signal: dict[str, float] = field(default_factory=dict)  # template id → event time of last signal
    trace_ids: dict[str, list[str]] = field(default_factory=dict)  # template id → recent trace ids


def to_signal(evidence: TemplateEvidence, trace_ids: list[str]) -> LogSignal:
    return LogSignal(service=evidence.service, template_id=evidence.template_id, template=evidence.template,
                     level=evidence.level, severity=severity_from_text(evidence.level), count=evidence.count,
                     baseline_per_min=evidence.baseline_per_min, reason=evidence.reason,
                     examples=list(evidence.examples), trace_ids=trace_ids, event_time=evidence.window_end)


def register(app: faust.App, ctx: StreamContext) -> None:
    logs_topic = app.topic(ctx.topic("aiops.logs"), key_serializer="raw", value_serializer="raw")
    signals_topic = app.topic(ctx.topic("aiops.signals"), key_serializer="raw", value_serializer="raw")
    dlq = app.topic(ctx.topic("aiops.signals.dlq"), key_serializer="raw", value_serializer="raw")
    codec = ctx.codec("LogRecord", "aiops.logs")
    miner_config = MinerConfig.from_settings(ctx.settings)
    rate_config = RateConfig.from_settings(ctx.settings)
    service_to_miner = app.Table("service_to_miner")  # base64 of the miner snapshot
    service_to_rates = app.Table("service_to_rates")
    states: dict[str, ServiceLogState] = {}

    def state_for(service: str) -> ServiceLogState:
        if service not in states:
            snapshot = service_to_miner.get(service)
            miner = (ServiceTemplateMiner.from_bytes(base64.b64decode(snapshot), miner_config) if snapshot
                     else ServiceTemplateMiner(miner_config, service))
            rates_state = service_to_rates.get(service)
            rates = (TemplateRates.from_dict(rates_state, rate_config) if rates_state
                     else TemplateRates(service, rate_config))
            states[service] = ServiceLogState(miner, rates)
        return states[service]

    def persist(service: str, state: ServiceLogState) -> None:
        service_to_miner[service] = base64.b64encode(state.miner.to_bytes()).decode()
        service_to_rates[service] = state.rates.to_dict()
        state.dirty = 0
        state.persisted_at = time.monotonic()

    @app.agent(logs_topic, name="mine_log_templates")
    async def mine_log_templates(stream):
        async for event in stream.events():
            try:
                record = LogRecord.from_avro(codec.decode(event.value))
            except (SerializationError, ValueError) as exc:
                await dead_letter(dlq, event, exc)
                continue
            state = state_for(record.service)
            match = state.miner.add(record.message)
            state.rates.observe(match.template_id, record.time, record.severity, example_line=record.message,
                                template=match.template)
            if record.trace_id:
                recent = state.trace_ids.setdefault(match.template_id, [])
                if record.trace_id not in recent:
                    state.trace_ids[match.template_id] = [*recent, record.trace_id][-MAX_TRACE_IDS:]
            event_ts = record.time.timestamp()
            for evidence in state.rates.evidence(record.time, template_ids=[match.template_id]):
                if event_ts - state.last_signal.get(evidence.template_id, float("-inf")) < SIGNAL_COOLDOWN_S:
                    continue
                state.last_signal[evidence.template_id] = event_ts
                signal = to_signal(evidence, state.trace_ids.get(evidence.template_id, []))
                await signals_topic.send(key=SCOPE, value=encode_signal(signal))
            state.dirty += 1
            if state.dirty >= PERSIST_EVERY_RECORDS or time.monotonic() - state.persisted_at >= PERSIST_EVERY_S:
                persist(record.service, state)
