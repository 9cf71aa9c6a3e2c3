"""The state the correlator keeps per incident, and the Avro snapshot made from it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from streams.records import Alert, Placement, Severity

SEVERITY_RANK = {Severity.critical: 4, Severity.error: 3, Severity.warning: 2, Severity.info: 1, Severity.unknown: 0}
MAX_SPAN_EVIDENCE = 25
MAX_TRACE_IDS = 200
# An alert's labels and annotations, and a span's attributes, as an incident keeps them (the reasoner caps
# them further before a model sees them).
MAX_ALERT_ENTRIES, MAX_SPAN_ATTRIBUTES, MAX_ENTRY_CHARS = 32, 16, 1024
MAX_ANOMALIES = 60  # kept per incident (strongest); a snapshot shows the strongest 30
MAX_ANOMALIES_SHOWN = 30
MAX_PLACEMENTS = 20
# Alert labels that say where a service runs (Prometheus and kube-state-metrics conventions), by Placement field.
PLACEMENT_LABELS = {"environment": ("environment", "env", "deployment_environment"),
                    "namespace": ("namespace", "k8s_namespace", "kubernetes_namespace"),
                    "pod": ("pod", "pod_name", "kubernetes_pod_name"),
                    "node": ("node", "kubernetes_node", "nodename"),
                    "host": ("host", "hostname"),
                    "version": ("version", "service_version")}


def placement_from_labels(service: str, labels: dict[str, str]) -> Placement:
    """Where an alert says its service runs, from its labels."""
    named = {field: next((labels[n] for n in names if labels.get(n)), None)
             for field, names in PLACEMENT_LABELS.items()}
    return Placement(service=service, **named)


def incident_id_for(alert: Alert) -> str:
    """Deterministic: a replay after a crash re-creates the same id instead of a duplicate incident."""
    digest = hashlib.sha256(f"{alert.fingerprint}|{alert.starts_at.isoformat()}".encode()).hexdigest()
    return f"inc-{digest[:16]}"


class AlertState(BaseModel):
    fingerprint: str
    name: str
    service: str
    status: str
    severity: Severity
    starts_at: datetime
    ends_at: datetime | None = None
    transitions: int = 0
    trace_id: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LogEvidence(BaseModel):
    service: str
    template_id: str
    template: str
    level: str
    count: int
    baseline_per_min: float | None = None
    reason: str
    examples: list[str] = Field(default_factory=list)


class SpanEvidence(BaseModel):
    trace_id: str
    span_id: str
    service: str
    operation: str
    kind: str
    duration_ms: float
    baseline_ms: float | None = None
    message: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    event_time: datetime
    exception_type: str | None = None
    exception_message: str | None = None
    exception_stacktrace: str | None = None


class AnomalyFacts(BaseModel):
    """What an anomaly is about and how strong it is: the anomaly signal and the evidence an incident keeps."""

    service: str  # the service the anomaly is attributed to
    signal: str  # latency, client_latency, self_time, network, errors, log_pattern, metric
    role: str  # cause (the service's own misbehaviour) or symptom
    subject: str  # the operation, caller or metric it is about
    peer: str | None = None  # the caller, for anomalies seen on calls into the service
    score: float = Field(ge=0)  # evidence strength, 0 (none) to 10 (overwhelming)
    value: float | None = None
    baseline: float | None = None
    unit: str = ""
    reason: str
    trace_ids: list[str] = Field(default_factory=list)


class AnomalyEvidence(AnomalyFacts):
    """An anomaly signal as the incident keeps it: the strongest score seen, first and last seen (event time)."""

    key: str
    first_seen: datetime
    last_seen: datetime
    observations: int = 1  # judgements (windows) that found it
    latest_score: float | None = None  # the latest reading's score (None: the only reading is `score`)

    @property
    def current_score(self) -> float:
        return self.score if self.latest_score is None else self.latest_score

    def merged(self, newer: AnomalyEvidence) -> AnomalyEvidence:
        """This evidence seen again: the stronger reading's numbers and reason, the whole time span, and how
        strong the latest reading is (a condition that has eased since its worst is told from one at its worst)."""
        stronger = newer if newer.score >= self.score else self
        again = newer.last_seen > self.last_seen
        latest = newer if newer.last_seen >= self.last_seen else self
        return stronger.model_copy(update={"first_seen": min(self.first_seen, newer.first_seen),
                                           "last_seen": max(self.last_seen, newer.last_seen),
                                           "observations": self.observations + (newer.observations if again else 0),
                                           "latest_score": latest.current_score})


class IncidentState(BaseModel):
    id: str
    version: int = 0
    status: str = "open"  # open until first emitted, then updated, finally resolved
    emitted: bool = False
    window_start: datetime
    window_end: datetime
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    services: list[str] = Field(default_factory=list)
    log_evidence: dict[str, LogEvidence] = Field(default_factory=dict)
    span_evidence: list[SpanEvidence] = Field(default_factory=list)
    trace_ids: list[str] = Field(default_factory=list)
    placements: list[Placement] = Field(default_factory=list)  # where the services involved ran
    merged: list[str] = Field(default_factory=list)
    anomalies: dict[str, AnomalyEvidence] = Field(default_factory=dict)
    opened_by: str = "alert"
    dirty: bool = True
    last_emitted: float = 0.0
    last_activity: float = 0.0
    resolved_at: float | None = None

    # --- membership -------------------------------------------------------------------------------
    def add_service(self, service: str) -> bool:
        if service in self.services:
            return False
        self.services = sorted({*self.services, service})
        return True

    def extend_window(self, when: datetime) -> None:
        self.window_start = min(self.window_start, when)
        self.window_end = max(self.window_end, when)

    def overlaps(self, when: datetime, gap_s: float) -> bool:
        return (self.window_start.timestamp() - gap_s) <= when.timestamp() <= (self.window_end.timestamp() + gap_s)

    def add_trace(self, trace_id: str | None) -> None:
        if trace_id and trace_id not in self.trace_ids:
            self.trace_ids = [*self.trace_ids, trace_id][-MAX_TRACE_IDS:]

    def add_placement(self, placement: Placement | None) -> None:
        if placement is not None and placement.known and placement not in self.placements:
            self.placements = [*self.placements, placement][-MAX_PLACEMENTS:]

    @property
    def firing(self) -> list[AlertState]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    @property
    def severity(self) -> Severity:
        if not self.alerts:
            return Severity.unknown
        return max((a.severity for a in self.alerts.values()), key=lambda s: SEVERITY_RANK[s])

    # --- evidence ---------------------------------------------------------------------------------
    def upsert_log(self, evidence: LogEvidence) -> None:
        key = f"{evidence.service}|{evidence.template_id}"
        old = self.log_evidence.get(key)
        if old is not None and old.count > evidence.count:
            evidence = evidence.model_copy(update={"count": old.count})
        self.log_evidence[key] = evidence

    def add_span(self, evidence: SpanEvidence) -> bool:
        if any(s.span_id == evidence.span_id and s.trace_id == evidence.trace_id for s in self.span_evidence):
            return False
        # Keep errors before slow spans, and the most recent of each.
        spans = sorted([*self.span_evidence, evidence], key=lambda s: (s.kind != "error", -s.event_time.timestamp()))
        self.span_evidence = spans[:MAX_SPAN_EVIDENCE]
        self.add_trace(evidence.trace_id)
        return True

    def upsert_anomaly(self, evidence: AnomalyEvidence) -> None:
        known = self.anomalies.get(evidence.key)
        self.anomalies[evidence.key] = known.merged(evidence) if known else evidence
        if len(self.anomalies) > MAX_ANOMALIES:
            keep = sorted(self.anomalies.values(), key=lambda a: (-a.score, a.key))[:MAX_ANOMALIES]
            self.anomalies = {a.key: a for a in keep}

    def absorb(self, other: IncidentState) -> None:
        """Merge another incident into this one (they turned out to be one problem)."""
        for fingerprint, alert in other.alerts.items():
            self.alerts.setdefault(fingerprint, alert)
        for service in other.services:
            self.add_service(service)
        for evidence in other.log_evidence.values():
            self.upsert_log(evidence)
        for span in other.span_evidence:
            self.add_span(span)
        for trace_id in other.trace_ids:
            self.add_trace(trace_id)
        for anomaly in other.anomalies.values():
            self.upsert_anomaly(anomaly)
        for placement in other.placements:
            self.add_placement(placement)
        self.window_start = min(self.window_start, other.window_start)
        self.window_end = max(self.window_end, other.window_end)
        self.merged = sorted({*self.merged, other.id, *other.merged})
        self.dirty = True

    # --- output -----------------------------------------------------------------------------------
    def title(self, root_service: str | None) -> str:
        names = sorted({a.name for a in self.alerts.values()})
        head = names[0] if names else "anomalies"
        more = f" (+{len(names) - 1} more alerts)" if len(names) > 1 else ""
        where = f" — likely cause {root_service}" if root_service else ""
        return f"{head}{more} across {', '.join(self.services)}{where}"

    def snapshot(self, root_cause: dict[str, Any], now: float) -> dict[str, Any]:
        """The Avro Incident record (schemas/incident.avsc)."""
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "title": self.title(root_cause.get("service")),
            "severity": self.severity.value,
            "services": list(self.services),
            "root_cause": root_cause,
            "alerts": [
                {"fingerprint": a.fingerprint, "name": a.name, "service": a.service, "status": a.status,
                 "severity": a.severity.value, "starts_at": a.starts_at, "ends_at": a.ends_at,
                 "labels": dict(a.labels), "annotations": dict(a.annotations)}
                for a in sorted(self.alerts.values(), key=lambda a: (a.starts_at, a.fingerprint))
            ],
            "log_evidence": [
                {**e.model_dump(), "examples": e.examples[:3]}
                for e in sorted(self.log_evidence.values(), key=lambda e: (-e.count, e.service, e.template_id))
            ],
            "span_evidence": [
                {k: v for k, v in s.model_dump().items() if k != "event_time"} for s in self.span_evidence
            ],
            "anomaly_evidence": [
                {k: v for k, v in a.model_dump().items() if k not in ("key", "peer", "observations", "latest_score")}
                for a in sorted(self.anomalies.values(), key=lambda a: (-a.score, a.key))[:MAX_ANOMALIES_SHOWN]
            ],
            "opened_by": self.opened_by,
            "similar_incidents": [],
            "placements": [p.model_dump() for p in sorted(self.placements, key=lambda p: (p.service, str(p)))],
            "window_start": self.window_start,
            "window_end": self.window_end,
            "updated_at": datetime.fromtimestamp(now, UTC),
        }
