"""Per service: the template miner, the template rates, recent trace ids and the signal cooldown.

`TemplateTracker.observe(record)` learns one canonical log line and returns the log signals it makes: a
template that surges against its baseline or is new at error level, at most once per template per
`signal_cooldown_s` of event time. The miners and the rates live in memory and are snapshotted into two
mappings (Faust tables in the worker, dicts in tests) every few records or seconds, so that a restarted worker
resumes with the same templates and baselines.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from streams.correlation.signals import LogSignal
from streams.logtemplates.miner import MinerConfig, ServiceTemplateMiner, TemplateMatch
from streams.logtemplates.rates import RateConfig, TemplateEvidence, TemplateRates
from streams.records import LogRecord, Placement, severity_from_text


@dataclass(frozen=True)
class TrackerConfig:
    persist_every_records: int = 50
    persist_every_s: float = 2.0
    signal_cooldown_s: float = 5.0  # event time between two signals about the same template
    max_trace_ids: int = 5
    max_placements: int = 5  # distinct pods / nodes / versions named per template


@dataclass
class ServiceLogState:
    """One service's miner and rates, with what the signals about its templates need besides them."""

    miner: ServiceTemplateMiner
    rates: TemplateRates
    persisted_at: float
    dirty: int = 0
    last_signal: dict[str, float] = field(default_factory=dict)  # template id → event time of last signal
    trace_ids: dict[str, list[str]] = field(default_factory=dict)  # template id → recent trace ids
    placements: dict[str, list[Placement]] = field(default_factory=dict)  # template id → where it was logged

    def remember_trace(self, template_id: str, trace_id: str | None, keep: int) -> None:
        recent = self.trace_ids.get(template_id, [])
        if trace_id and trace_id not in recent:
            self.trace_ids[template_id] = [*recent, trace_id][-keep:]

    def remember_placement(self, template_id: str, placement: Placement, keep: int) -> None:
        recent = self.placements.get(template_id, [])
        if placement.known and placement not in recent:
            self.placements[template_id] = [*recent, placement][-keep:]

    def cooled_down(self, template_id: str, event_ts: float, cooldown_s: float) -> bool:
        """Whether a signal about this template may go out at event_ts (and if so, remember that it did)."""
        if event_ts - self.last_signal.get(template_id, float("-inf")) < cooldown_s:
            return False
        self.last_signal[template_id] = event_ts
        return True


def to_signal(evidence: TemplateEvidence, trace_ids: list[str],
              placements: list[Placement] | None = None) -> LogSignal:
    return LogSignal(service=evidence.service, template_id=evidence.template_id, template=evidence.template,
                     level=evidence.level, severity=severity_from_text(evidence.level), count=evidence.count,
                     baseline_per_min=evidence.baseline_per_min, reason=evidence.reason,
                     examples=list(evidence.examples), trace_ids=trace_ids, event_time=evidence.window_end,
                     placements=list(placements or []))


class TemplateTracker:
    """Every service's log state, restored from and snapshotted into the two tables."""

    def __init__(self, miner_config: MinerConfig, rate_config: RateConfig,
                 service_to_miner: MutableMapping[str, Any], service_to_rates: MutableMapping[str, Any],
                 config: TrackerConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.miner_config = miner_config
        self.rate_config = rate_config
        self.service_to_miner = service_to_miner  # base64 of the miner snapshot
        self.service_to_rates = service_to_rates
        self.config = config or TrackerConfig()
        self.clock = clock
        self.states: dict[str, ServiceLogState] = {}

    def state_for(self, service: str) -> ServiceLogState:
        if service not in self.states:
            snapshot = self.service_to_miner.get(service)
            miner = (ServiceTemplateMiner.from_bytes(base64.b64decode(snapshot), self.miner_config) if snapshot
                     else ServiceTemplateMiner(self.miner_config, service))
            rates_state = self.service_to_rates.get(service)
            rates = (TemplateRates.from_dict(rates_state, self.rate_config) if rates_state
                     else TemplateRates(service, self.rate_config))
            self.states[service] = ServiceLogState(miner, rates, persisted_at=self.clock())
        return self.states[service]

    def observe(self, record: LogRecord) -> list[LogSignal]:
        """Learn one log line; the signals about its template that are due."""
        return self.observe_line(record)[1]

    def observe_line(self, record: LogRecord) -> tuple[TemplateMatch, list[LogSignal]]:
        """Learn one log line: the template it belongs to, and the signals about that template that are due."""
        state = self.state_for(record.service)
        match = state.miner.add(record.message)
        state.rates.observe(match.template_id, record.time, record.severity, example_line=record.message,
                            template=match.template)
        state.remember_trace(match.template_id, record.trace_id, self.config.max_trace_ids)
        state.remember_placement(match.template_id, Placement.of(record.service, record.resource),
                                 self.config.max_placements)
        event_ts = record.time.timestamp()
        signals = [to_signal(evidence, state.trace_ids.get(evidence.template_id, []),
                             state.placements.get(evidence.template_id))
                   for evidence in state.rates.evidence(record.time, template_ids=[match.template_id])
                   if state.cooled_down(evidence.template_id, event_ts, self.config.signal_cooldown_s)]
        state.dirty += 1
        if (state.dirty >= self.config.persist_every_records
                or self.clock() - state.persisted_at >= self.config.persist_every_s):
            self.persist(record.service, state)
        return match, signals

    def persist(self, service: str, state: ServiceLogState) -> None:
        self.service_to_miner[service] = base64.b64encode(state.miner.to_bytes()).decode()
        self.service_to_rates[service] = state.rates.to_dict()
        state.dirty = 0
        state.persisted_at = self.clock()
