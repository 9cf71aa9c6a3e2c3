"""The records after correlation, typed: Incident, Proposal, Decision and Execution, validated with pydantic.

Their Avro contracts are in schemas/ (incident.avsc, proposal.avsc, decision.avsc, execution.avsc), field for
field; nested records carry their Avro names. Like the canonical records (streams/records.py), `to_avro()`
gives the dict the Avro codec writes and `from_avro()` reads one back; timestamps are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiops.core.catalog import ParameterValue, RiskClass
from streams.records import CanonicalRecord, Placement, Severity, utc


class _Part(BaseModel):
    """A nested record."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- Incident (aiops.incidents) -------------------------------------------------------------------

class IncidentStatus(StrEnum):
    open = "open"
    updated = "updated"
    resolved = "resolved"


class RootCauseCandidate(_Part):
    service: str
    score: float
    reason: str
    evidence: list[str] = Field(default_factory=list)  # strongest first, in words a person can check


class RootCause(_Part):
    service: str | None = None
    reason: str
    candidates: list[RootCauseCandidate] = Field(default_factory=list)


class AlertRef(_Part):
    fingerprint: str
    name: str
    service: str
    status: Literal["firing", "resolved"]
    severity: Severity
    starts_at: datetime
    ends_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # capped; telemetry: data, never instructions
    annotations: dict[str, str] = Field(default_factory=dict)  # summary, description, runbook_url; capped


class LogTemplateEvidence(_Part):
    service: str
    template_id: str
    template: str
    level: str
    count: int
    baseline_per_min: float | None = None
    reason: str  # surge against its baseline, or new at error level
    examples: list[str] = Field(default_factory=list)


class SpanEvidence(_Part):
    trace_id: str
    span_id: str
    service: str
    operation: str
    kind: Literal["error", "slow"]
    duration_ms: float
    baseline_ms: float | None = None
    message: str | None = None
    exception_type: str | None = None  # the span's first exception event
    exception_message: str | None = None
    exception_stacktrace: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)  # capped


class AnomalyEvidence(_Part):
    """A service behaving unlike its own baseline (spans, log patterns, metrics)."""

    service: str
    signal: str  # latency, client_latency, self_time, network, errors, log_pattern, metric
    role: str  # cause (the service's own misbehaviour) or symptom
    subject: str  # the operation, caller or metric it is about
    score: float  # evidence strength, 0 to 10
    value: float | None = None
    baseline: float | None = None
    unit: str = ""
    reason: str
    trace_ids: list[str] = Field(default_factory=list)
    first_seen: datetime
    last_seen: datetime

    _utc = field_validator("first_seen", "last_seen")(classmethod(lambda cls, v: utc(v)))


class SimilarDocument(_Part):
    doc_id: str
    kind: str  # postmortem, runbook, note or incident
    title: str
    score: float


class Incident(CanonicalRecord):
    """An incident snapshot, keyed by id on the compacted aiops.incidents topic."""

    id: str
    version: int
    status: IncidentStatus
    title: str
    severity: Severity = Severity.unknown
    services: list[str]
    root_cause: RootCause
    alerts: list[AlertRef]
    log_evidence: list[LogTemplateEvidence] = Field(default_factory=list)
    span_evidence: list[SpanEvidence] = Field(default_factory=list)
    anomaly_evidence: list[AnomalyEvidence] = Field(default_factory=list)
    opened_by: Literal["alert", "anomalies"] = "alert"
    similar_incidents: list[SimilarDocument] = Field(default_factory=list)
    placements: list[Placement] = Field(default_factory=list)  # where the services involved ran
    window_start: datetime
    window_end: datetime
    updated_at: datetime

    _utc = field_validator("window_start", "window_end", "updated_at")(classmethod(lambda cls, v: utc(v)))


# --- Proposal (aiops.proposals) -------------------------------------------------------------------

class Target(_Part):
    environment: str
    namespace: str
    service: str


class EvidenceRef(_Part):
    kind: Literal["alert", "log_template", "span", "document"]
    ref: str
    summary: str | None = None


class Proposer(_Part):
    kind: Literal["llm", "reasoner", "human"]
    name: str
    version: str
    note: str | None = None  # e.g. why the LLM fell back


class Proposal(CanonicalRecord):
    """A proposed action from the action catalog, for the gatekeeper to decide on."""

    id: str
    incident_id: str
    action: str  # a name from the action catalog
    parameters: dict[str, ParameterValue]
    target: Target
    risk_class: RiskClass
    blast_radius: int  # estimated number of things affected (pods, users, ...)
    rationale: str
    evidence: list[EvidenceRef]
    confidence: float
    proposer: Proposer
    requested_by: str | None = None
    created_at: datetime
    expires_at: datetime
    idempotency_key: str

    _utc = field_validator("created_at", "expires_at")(classmethod(lambda cls, v: utc(v)))


# --- Decision (aiops.decisions) and Execution (aiops.executions) ----------------------------------

class ApprovalConsidered(_Part):
    decision: str
    source: str
    approver: str | None = None
    counted: bool
    reason: str | None = None


class Decision(CanonicalRecord):
    """One gatekeeper evaluation of a proposal, with OPA's decision id and reasons."""

    id: str
    proposal_id: str
    opa_decision_id: str | None = None
    allow: bool
    reasons: list[str]
    approvals_considered: list[ApprovalConsidered] = Field(default_factory=list)
    policy_revision: str | None = None
    trigger: str  # proposal, approval, expiry, retry, escalation, ...; demotion (written by `aiops trust run`)
    evaluated_at: datetime
    latency_ms: float
    autonomy_grant: str | None = None  # allowed without approval: the promotion whose grant made it autonomous

    _utc = field_validator("evaluated_at")(classmethod(lambda cls, v: utc(v)))


class ExecutionStatus(StrEnum):
    started = "started"
    succeeded = "succeeded"
    failed = "failed"
    skipped_duplicate = "skipped_duplicate"
    outcome_unknown = "outcome_unknown"  # interrupted, and the executor cannot say: escalated to a person


class Execution(CanonicalRecord):
    """One execution attempt of an allowed proposal and its result."""

    id: str
    proposal_id: str
    decision_id: str
    idempotency_key: str
    executor: str  # platform-ctl, webhook or dry-run
    action: str
    request: str  # the request sent, as JSON
    response: str | None = None
    status: ExecutionStatus
    error: str | None = None
    attempt: int
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: float | None = None

    _utc = field_validator("started_at", "finished_at")(classmethod(lambda cls, v: None if v is None else utc(v)))


# --- Outcome (aiops.outcomes) ---------------------------------------------------------------------

class OutcomeVerdict(StrEnum):
    helpful = "helpful"
    no_effect = "no_effect"
    harmful = "harmful"


class Outcome(CanonicalRecord):
    """Whether an executed action helped, decided in event time from its incident's snapshots (aiops/trust)."""

    proposal_id: str
    execution_id: str
    incident_id: str
    action: str
    environment: str
    namespace: str
    service: str
    execution_status: str
    verdict: OutcomeVerdict
    evidence: list[str]
    executed_at: datetime
    decided_at: datetime
    window_s: float

    @property
    def id(self) -> str:
        """One outcome per proposal: stores keyed by record id keep it under the proposal id."""
        return self.proposal_id

    _utc = field_validator("executed_at", "decided_at")(classmethod(lambda cls, v: utc(v)))
