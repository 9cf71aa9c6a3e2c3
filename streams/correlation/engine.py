"""The correlator: signals in, incident snapshots out, state in dict-like tables.

Tables (Faust tables in the worker, plain dicts in unit tests; values are JSON-compatible and always
reassigned, never mutated in place, so every change reaches the changelog):
- incidents: incident id → IncidentState
- fingerprint_to_incident: alert fingerprint → incident id (deduplication)
- trace_to_incident: trace id → incident id (joins alerts, logs and spans sharing a trace)
- edges: "caller->callee" → {calls, errors, last_seen} (the dependency graph)
- service_to_recent_evidence: service → recent log/span signals not yet in an incident
- service_to_anomalies: service → recent anomaly evidence not yet in an incident (streams/correlation/anomalies.py)
- counters: watermark (and the wall time it last moved), late-event counts

Time is event time: the watermark is the latest event time seen, and while no newer event arrives it moves on
with the wall clock (an idle stream still goes quiet). Quiet periods, snapshot intervals and the age of
evidence are all measured on this clock, so a replay at any speed makes the same incidents.

Replays after a crash re-apply signals; every step is idempotent (deterministic ids, status updates,
evidence upserts), so a replay cannot create a second incident for the same alert.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiops.core.limits import cap_map
from streams.correlation.anomalies import AnomalyBook, AnomalyConfig, anomaly_home, evidence_from, open_from
from streams.correlation.clock import EventClock
from streams.correlation.errors import UncorrelatedSignalError
from streams.correlation.graph import DependencyGraph, edge_key
from streams.correlation.incident import (
    MAX_ALERT_ENTRIES,
    MAX_ENTRY_CHARS,
    AlertState,
    IncidentState,
    incident_id_for,
    placement_from_labels,
)
from streams.correlation.outputs import Output, Rejected, Snapshot, Tombstone
from streams.correlation.ranking import RankingConfig, rank
from streams.correlation.signals import AlertSignal, AnomalySignal, EdgeSignal, LogSignal, SpanSignal, TickSignal
from streams.records import Alert

MAX_RECENT_PER_SERVICE = 30


@dataclass(frozen=True)
class CorrelationConfig:
    allowed_lateness_s: float = 120.0
    group_gap_s: float = 300.0
    graph_hops: int = 2
    quiet_period_s: float = 300.0
    snapshot_interval_s: float = 5.0
    evidence_lookback_s: float = 600.0
    resolved_retention_s: float = 3600.0
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)

    @classmethod
    def from_settings(cls, s: Any) -> CorrelationConfig:
        return cls(
            allowed_lateness_s=s.correlation_allowed_lateness_s, group_gap_s=s.correlation_group_gap_s,
            graph_hops=s.correlation_graph_hops, quiet_period_s=s.incident_quiet_period_s,
            snapshot_interval_s=s.incident_snapshot_interval_s,
            anomalies=AnomalyConfig(open_score=s.incident_open_score, min_evidence=s.incident_open_min_evidence,
                                    window_s=s.anomaly_evidence_window_s, hops=s.anomaly_join_hops),
            ranking=RankingConfig(method=s.rca_ranking),
        )


@dataclass
class Tables:
    incidents: MutableMapping[str, Any] = field(default_factory=dict)
    fingerprint_to_incident: MutableMapping[str, Any] = field(default_factory=dict)
    trace_to_incident: MutableMapping[str, Any] = field(default_factory=dict)
    edges: MutableMapping[str, Any] = field(default_factory=dict)
    service_to_recent_evidence: MutableMapping[str, Any] = field(default_factory=dict)
    counters: MutableMapping[str, Any] = field(default_factory=dict)
    service_to_anomalies: MutableMapping[str, Any] = field(default_factory=dict)



class Correlator:
    def __init__(self, config: CorrelationConfig, tables: Tables):
        self.config = config
        self.t = tables
        self.book = AnomalyBook(tables.service_to_anomalies, config.anomalies)
        self.clock = EventClock(tables.counters, config.allowed_lateness_s)
        # The open-incident index: incident id → (the table's value, its parsed state). Validating every open
        # incident on every signal was a quarter of correlating; an entry is re-parsed only when the table
        # holds another value for it (saved since, or recovered from the changelog). The parsed states are
        # handed out as they are: every path that changes one saves it; `_merge` and a failed `handle` drop
        # entries that might have changed without being saved.
        self._parsed: dict[str, tuple[Any, IncidentState]] = {}

    # --- table access -----------------------------------------------------------------------------
    def _load(self, incident_id: str) -> IncidentState | None:
        raw = self.t.incidents.get(incident_id)
        return IncidentState.model_validate(raw) if raw is not None else None

    def _save(self, incident: IncidentState) -> None:
        raw = incident.model_dump(mode="json")
        self.t.incidents[incident.id] = raw
        self._parsed[incident.id] = (raw, incident)

    def _open_incidents(self) -> list[IncidentState]:
        found = []
        for incident_id, raw in list(self.t.incidents.items()):
            if raw.get("status") == "resolved":
                continue
            cached = self._parsed.get(incident_id)
            if cached is None or cached[0] is not raw:
                cached = self._parsed[incident_id] = (raw, IncidentState.model_validate(raw))
            found.append(cached[1])
        if len(self._parsed) > 2 * len(found) + 100:  # merged, resolved or forgotten ones
            self._parsed = {k: v for k, v in self._parsed.items() if k in self.t.incidents}
        return sorted(found, key=lambda i: (i.window_start, i.id))

    def open_count(self) -> int:
        return sum(1 for raw in self.t.incidents.values() if raw.get("status") != "resolved")

    def graph(self) -> DependencyGraph:
        return DependencyGraph(dict(self.t.edges.items()))

    @property
    def late_events(self) -> int:
        return int(self.t.counters.get("late_events", 0))

    def _late(self, kind: str, when: datetime) -> Rejected:
        return Rejected(self.clock.late(kind, when))

    # --- entry point ------------------------------------------------------------------------------
    def handle(self, signal: Any, wall_now: float) -> list[Output]:
        """One signal at wall time `wall_now`; every rule inside runs on the event-time clock."""
        try:
            return self._handle(signal, wall_now)
        except Exception:
            self._parsed.clear()  # a state may have changed half-way without being saved
            raise

    def _handle(self, signal: Any, wall_now: float) -> list[Output]:
        self.clock.advance_wall(wall_now)
        if isinstance(signal, TickSignal):
            return self.tick(self.clock.now())
        if isinstance(signal, AlertSignal):
            return self.on_alert(signal)
        if isinstance(signal, LogSignal):
            return self.on_log(signal)
        if isinstance(signal, SpanSignal):
            return self.on_span(signal)
        if isinstance(signal, EdgeSignal):
            return self.on_edge(signal)
        if isinstance(signal, AnomalySignal):
            return self.on_anomaly(signal)
        return [Rejected(UncorrelatedSignalError(f"unknown signal type {type(signal).__name__}"))]

    # --- alerts -----------------------------------------------------------------------------------
    def on_alert(self, signal: AlertSignal) -> list[Output]:
        alert = signal.alert
        known = self.t.fingerprint_to_incident.get(alert.fingerprint)
        incident = self._load(known) if known else None
        if incident is not None and incident.status != "resolved":
            self.clock.observe(signal.event_time)
            return self._update_alert(incident, alert, self.clock.now())

        if alert.status == "resolved":
            if incident is not None:  # a repeat of a resolve we already applied
                return []
            return [Rejected(UncorrelatedSignalError(
                f"resolve for alert {alert.name} ({alert.fingerprint}) that was never seen firing"))]
        if not self.clock.observe(alert.starts_at):
            return [self._late(f"alert {alert.name}", alert.starts_at)]
        now = self.clock.now()
        outputs: list[Output] = []
        graph = self.graph()
        by_trace = self.t.trace_to_incident.get(alert.trace_id) if alert.trace_id else None
        matches = [
            i for i in self._open_incidents()
            if i.id == by_trace or (self._live(i, now) and i.overlaps(alert.starts_at, self.config.group_gap_s)
                                    and graph.connected(alert.service, i.services, self.config.graph_hops))
        ]
        if matches:
            incident = matches[0]
            for other in matches[1:]:
                outputs += self._merge(incident, other)
        else:
            incident_id = incident_id_for(alert)
            incident = self._load(incident_id) or IncidentState(
                id=incident_id, window_start=alert.starts_at, window_end=alert.starts_at)
        outputs += self._update_alert(incident, alert, now)
        return outputs

    def _update_alert(self, incident: IncidentState, alert: Alert, now: float) -> list[Output]:
        previous = incident.alerts.get(alert.fingerprint)
        if previous is not None and previous.status == alert.status and previous.starts_at == alert.starts_at \
                and previous.ends_at == alert.ends_at:
            return []  # an exact repeat (Alertmanager re-sends, or a replay): nothing changes
        transitions = previous.transitions + (previous.status != alert.status) if previous else 0
        first_start = min(alert.starts_at, previous.starts_at) if previous else alert.starts_at
        incident.alerts[alert.fingerprint] = AlertState(
            fingerprint=alert.fingerprint, name=alert.name, service=alert.service, status=alert.status,
            severity=alert.severity, starts_at=first_start,
            ends_at=alert.ends_at if alert.status == "resolved" else None, transitions=transitions,
            trace_id=alert.trace_id, labels=cap_map(alert.labels, MAX_ALERT_ENTRIES, MAX_ENTRY_CHARS),
            annotations=cap_map(alert.annotations, MAX_ALERT_ENTRIES, MAX_ENTRY_CHARS),
        )
        incident.extend_window(alert.starts_at)
        if alert.ends_at and alert.status == "resolved":
            incident.extend_window(alert.ends_at)
        if alert.status == "firing":
            incident.resolved_at = None
            if incident.status == "resolved":  # the same alert instance fires again: reopen
                incident.status = "updated"
        new_service = incident.add_service(alert.service)
        incident.add_placement(placement_from_labels(alert.service, alert.labels))
        incident.add_trace(alert.trace_id)
        if alert.trace_id:
            self.t.trace_to_incident[alert.trace_id] = incident.id
        self.t.fingerprint_to_incident[alert.fingerprint] = incident.id
        if new_service:
            self._pull_recent_evidence(incident, alert.service, now)
        incident.dirty = True
        incident.last_activity = now
        return self._maybe_emit(incident, now)

    def _merge(self, survivor: IncidentState, other: IncidentState) -> list[Output]:
        self._parsed.pop(survivor.id, None)  # changed here, saved by the caller (re-parsed if it is not)
        survivor.absorb(other)
        for fingerprint in other.alerts:
            self.t.fingerprint_to_incident[fingerprint] = survivor.id
        for trace_id in other.trace_ids:
            self.t.trace_to_incident[trace_id] = survivor.id
        self.t.incidents.pop(other.id, None)
        return [Tombstone(other.id, survivor.id)] if other.emitted else []

    # --- evidence ---------------------------------------------------------------------------------
    def _remember(self, service: str, signal: LogSignal | SpanSignal) -> None:
        recent = list(self.t.service_to_recent_evidence.get(service, []))
        recent.append(signal.model_dump(mode="json"))
        self.t.service_to_recent_evidence[service] = recent[-MAX_RECENT_PER_SERVICE:]

    def _pull_recent_evidence(self, incident: IncidentState, service: str, now: float) -> None:
        for raw in self.t.service_to_recent_evidence.get(service, []):
            signal = (LogSignal if raw["kind"] == "log" else SpanSignal).model_validate(raw)
            if incident.overlaps(signal.event_time, self.config.evidence_lookback_s):
                self._attach(incident, signal)
        cutoff = datetime.fromtimestamp(now - self.config.anomalies.window_s, UTC)
        for evidence in self.book.take(service, since=cutoff):
            incident.upsert_anomaly(evidence)

    def _live(self, incident: IncidentState, now: float) -> bool:
        """Still taking new evidence: an alert fires, or an anomaly in it is fresh. An incident whose alerts
        resolved and whose anomalies aged out only waits out its quiet period: a new fault opens a new one."""
        if incident.firing:
            return True
        window = self.config.anomalies.window_s
        return any(now - a.last_seen.timestamp() <= window for a in incident.anomalies.values())

    def _attach(self, incident: IncidentState, signal: LogSignal | SpanSignal) -> None:
        if isinstance(signal, LogSignal):
            incident.upsert_log(signal.as_evidence())
            for placement in signal.placements:
                incident.add_placement(placement)
            for trace_id in signal.trace_ids:
                incident.add_trace(trace_id)
                self.t.trace_to_incident[trace_id] = incident.id
        else:
            incident.add_span(signal.as_evidence())
            incident.add_placement(signal.placement)
            self.t.trace_to_incident[signal.trace_id] = incident.id
        incident.dirty = True

    def _home_for(self, service: str, trace_ids: list[str], when: datetime, now: float) -> IncidentState | None:
        for trace_id in trace_ids:
            owner = self.t.trace_to_incident.get(trace_id)
            incident = self._load(owner) if owner else None
            if incident is not None and incident.status != "resolved" and self._live(incident, now):
                return incident
        for incident in self._open_incidents():
            if service in incident.services and incident.overlaps(when, self.config.evidence_lookback_s) \
                    and self._live(incident, now):
                return incident
        return None

    def _on_evidence(self, signal: LogSignal | SpanSignal, trace_ids: list[str]) -> list[Output]:
        if not self.clock.observe(signal.event_time):
            return [self._late(f"{signal.kind} evidence for {signal.service}", signal.event_time)]
        now = self.clock.now()
        incident = self._home_for(signal.service, trace_ids, signal.event_time, now)
        if incident is None:
            self._remember(signal.service, signal)
            return []
        if incident.add_service(signal.service):
            self._pull_recent_evidence(incident, signal.service, now)
        self._attach(incident, signal)
        incident.extend_window(signal.event_time)
        # Log and span evidence joins an incident but does not keep it open: only firing alerts and fresh
        # anomalies do (otherwise an incident whose alerts resolved would never go quiet).
        return self._maybe_emit(incident, now)

    def on_log(self, signal: LogSignal) -> list[Output]:
        return self._on_evidence(signal, signal.trace_ids)

    def on_span(self, signal: SpanSignal) -> list[Output]:
        return self._on_evidence(signal, [signal.trace_id])

    def on_anomaly(self, signal: AnomalySignal) -> list[Output]:
        """Join a live incident that holds the service or one close to it in the call graph, else wait in the
        book until the group's evidence opens an incident (streams/correlation/anomalies.py)."""
        if not self.clock.observe(signal.event_time):
            return [self._late(f"anomaly evidence for {signal.service}", signal.event_time)]
        now = self.clock.now()
        evidence = evidence_from(signal)
        live = [i for i in self._open_incidents() if self._live(i, now)]
        incident = anomaly_home(signal.service, signal.event_time, live, self.graph(),
                                self.config.anomalies.hops, self.config.group_gap_s)
        if incident is None:
            self.book.add(evidence)
            group = self.book.group(signal.service, self.graph(), now)
            if not self.book.opens(group):
                return []
            incident = open_from(group, self.book, self._load)
            for service in incident.services:
                self._pull_recent_evidence(incident, service, now)
        else:
            if incident.add_service(signal.service):
                self._pull_recent_evidence(incident, signal.service, now)
            incident.upsert_anomaly(evidence)
        incident.extend_window(signal.event_time)
        incident.last_activity = now
        incident.dirty = True
        return self._maybe_emit(incident, now)

    def on_edge(self, signal: EdgeSignal) -> list[Output]:
        key = edge_key(signal.caller, signal.callee)
        old = self.t.edges.get(key)
        self.t.edges[key] = {
            "calls": (old["calls"] if old else 0) + signal.calls,
            "errors": (old["errors"] if old else 0) + signal.errors,
            "last_seen": max(old["last_seen"] if old else 0.0, signal.event_time.timestamp()),
        }
        # A new edge may show that incidents opened separately are one problem (alerts can arrive before
        # the spans that connect their services).
        return self._merge_connected(self.clock.now()) if old is None else []

    def _merge_connected(self, now: float) -> list[Output]:
        outputs: list[Output] = []
        graph = self.graph()
        open_incidents = self._open_incidents()
        absorbed: set[str] = set()
        for i, survivor in enumerate(open_incidents):
            if survivor.id in absorbed or survivor.opened_by == "anomalies":
                continue  # anomaly-opened incidents grew by their own rule; alerts still join them
            changed = False
            for other in open_incidents[i + 1:]:
                if other.id in absorbed or other.opened_by == "anomalies":
                    continue
                near = survivor.overlaps(other.window_start, self.config.group_gap_s) or \
                    other.overlaps(survivor.window_start, self.config.group_gap_s)
                if near and any(graph.connected(s, survivor.services, self.config.graph_hops) for s in other.services):
                    outputs += self._merge(survivor, other)
                    absorbed.add(other.id)
                    changed = True
            if changed:
                outputs += self._maybe_emit(survivor, now)
        return outputs

    # --- time -------------------------------------------------------------------------------------
    def tick(self, now: float) -> list[Output]:
        """Time-based work at event time `now`: resolving quiet incidents, flushing rate-limited snapshots."""
        outputs: list[Output] = []
        self.book.expire(now)
        for raw in list(self.t.incidents.values()):
            if raw.get("status") == "resolved":
                resolved_at = raw.get("resolved_at")
                if resolved_at and now - resolved_at > self.config.resolved_retention_s:
                    self._forget(IncidentState.model_validate(raw))
        for incident in self._open_incidents():
            if not incident.firing and now - incident.last_activity >= self.config.quiet_period_s:
                incident.status = "resolved"
                incident.resolved_at = now
                incident.dirty = True
                outputs += self._emit(incident, now)
            elif incident.dirty and now - incident.last_emitted >= self.config.snapshot_interval_s:
                outputs += self._emit(incident, now)
        return outputs

    def _forget(self, incident: IncidentState) -> None:
        self.t.incidents.pop(incident.id, None)
        for fingerprint in incident.alerts:
            if self.t.fingerprint_to_incident.get(fingerprint) == incident.id:
                self.t.fingerprint_to_incident.pop(fingerprint, None)

    def _maybe_emit(self, incident: IncidentState, now: float) -> list[Output]:
        # The first snapshot goes out at once; updates at most every snapshot_interval_s (ticks flush them).
        if not incident.emitted or now - incident.last_emitted >= self.config.snapshot_interval_s:
            return self._emit(incident, now)
        self._save(incident)
        return []

    def _emit(self, incident: IncidentState, now: float) -> list[Output]:
        if incident.status != "resolved":
            incident.status = "updated" if incident.emitted else "open"
        incident.version += 1
        incident.emitted = True
        incident.dirty = False
        incident.last_emitted = now
        record = incident.snapshot(rank(incident, self.graph(), self.config.ranking), now)
        self._save(incident)
        return [Snapshot(incident.id, record)]
