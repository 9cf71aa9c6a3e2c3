"""What the feed serves per output topic: flat table rows, datetimes as RFC3339, each with its id and sort time."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiops.core.topics import DECISIONS, EXECUTIONS, INCIDENTS, OUTCOMES, PROPOSALS
from streams.output_records import Decision, Execution, Incident, Outcome, Proposal

Row = dict[str, Any]


def rfc3339(value: datetime | None) -> str | None:
    """A UTC timestamp like 2026-11-26T10:00:00.000Z (fixed width, so the strings sort like the times)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: float | int | None) -> float | int | None:
    # JSON has no NaN or Infinity.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _joined(items: list[str], sep: str = ", ") -> str:
    return sep.join(item for item in items if item)


def incident_row(incident: Incident) -> Row:
    """An Incident snapshot, flattened: root cause, services and alerts as text."""
    root_cause = incident.root_cause
    alerts = incident.alerts
    return {
        "id": incident.id,
        "version": incident.version,
        "status": incident.status.value,
        "title": incident.title,
        "severity": incident.severity.value,
        "services": _joined(incident.services),
        "service_count": len(incident.services),
        "root_cause_service": root_cause.service,
        "root_cause_reason": root_cause.reason,
        "alerts": _joined([f"{a.name} ({a.service}, {a.status})" for a in alerts]),
        "alert_count": len(alerts),
        "alerts_firing": sum(1 for a in alerts if a.status == "firing"),
        "log_templates": len(incident.log_evidence),
        "spans": len(incident.span_evidence),
        "similar": _joined([d.title for d in incident.similar_incidents], "; "),
        "window_start": rfc3339(incident.window_start),
        "window_end": rfc3339(incident.window_end),
        "updated_at": rfc3339(incident.updated_at),
    }


def proposal_row(proposal: Proposal) -> Row:
    """A Proposal, flattened: target, proposer and parameters as text."""
    target = proposal.target
    proposer = proposal.proposer
    return {
        "id": proposal.id,
        "incident_id": proposal.incident_id,
        "action": proposal.action,
        "parameters": json.dumps(proposal.parameters, sort_keys=True, default=str),
        "target": f"{target.environment}/{target.namespace}/{target.service}",
        "target_environment": target.environment,
        "target_namespace": target.namespace,
        "target_service": target.service,
        "risk_class": proposal.risk_class.value,
        "blast_radius": proposal.blast_radius,
        "rationale": proposal.rationale,
        "evidence_count": len(proposal.evidence),
        "confidence": _number(proposal.confidence),
        "proposer": f"{proposer.kind}: {proposer.name} {proposer.version}",
        "proposer_kind": proposer.kind,
        "proposer_name": proposer.name,
        "proposer_version": proposer.version,
        "proposer_note": proposer.note,
        "requested_by": proposal.requested_by,
        "created_at": rfc3339(proposal.created_at),
        "expires_at": rfc3339(proposal.expires_at),
        "idempotency_key": proposal.idempotency_key,
    }


def decision_row(decision: Decision) -> Row:
    """A Decision, flattened: allow/deny as an outcome, reasons and counted approvers as text."""
    considered = decision.approvals_considered
    counted = [a for a in considered if a.counted]
    return {
        "id": decision.id,
        "proposal_id": decision.proposal_id,
        "opa_decision_id": decision.opa_decision_id,
        "allow": decision.allow,
        "outcome": "allow" if decision.allow else "deny",
        "reasons": _joined(decision.reasons, "; "),
        "approvals_considered": len(considered),
        "approvals_counted": len(counted),
        "approvers": _joined([a.approver or "?" for a in counted]),
        "policy_revision": decision.policy_revision,
        "trigger": decision.trigger,
        "evaluated_at": rfc3339(decision.evaluated_at),
        "latency_ms": _number(decision.latency_ms),
        "autonomy_grant": decision.autonomy_grant,
    }


def execution_row(execution: Execution) -> Row:
    """An Execution attempt as it is (already flat)."""
    return {
        "id": execution.id,
        "proposal_id": execution.proposal_id,
        "decision_id": execution.decision_id,
        "idempotency_key": execution.idempotency_key,
        "executor": execution.executor,
        "action": execution.action,
        "status": execution.status.value,
        "error": execution.error,
        "attempt": execution.attempt,
        "request": execution.request,
        "response": execution.response,
        "started_at": rfc3339(execution.started_at),
        "finished_at": rfc3339(execution.finished_at),
        "duration_ms": _number(execution.duration_ms),
    }


def outcome_row(outcome: Outcome) -> Row:
    """An Outcome (trust ladder): the verdict on one executed action, its selector and evidence as text."""
    return {
        "id": outcome.proposal_id,
        "proposal_id": outcome.proposal_id,
        "incident_id": outcome.incident_id,
        "action": outcome.action,
        "selector": f"{outcome.action} {outcome.environment}/{outcome.namespace}",
        "target": f"{outcome.environment}/{outcome.namespace}/{outcome.service}",
        "execution_status": outcome.execution_status,
        "verdict": outcome.verdict.value,
        "evidence": _joined(outcome.evidence, "; "),
        "executed_at": rfc3339(outcome.executed_at),
        "decided_at": rfc3339(outcome.decided_at),
        "window_s": _number(outcome.window_s),
    }


R = TypeVar("R", Incident, Proposal, Decision, Execution, Outcome)


@dataclass(frozen=True)
class View(Generic[R]):
    """One endpoint of the feed: the topic it follows, the record on it, and how a record becomes a row."""

    endpoint: str  # /incidents, ...
    topic: str  # catalog name, without the prefix
    record: type[R]  # the typed record; its Avro schema in schemas/ has the same name
    to_row: Callable[[R], Row]
    time_field: str  # newest first by this record field
    version_field: str | None = None  # keep the highest version per id (compacted snapshots)

    def sort_time(self, record: R) -> float:
        value = getattr(record, self.time_field, None)
        return value.timestamp() if isinstance(value, datetime) else 0.0

    def version(self, record: R) -> int:
        return int(getattr(record, self.version_field)) if self.version_field else 0


VIEWS: tuple[View[Any], ...] = (
    View("incidents", INCIDENTS, Incident, incident_row, "updated_at", version_field="version"),
    View("proposals", PROPOSALS, Proposal, proposal_row, "created_at"),
    View("decisions", DECISIONS, Decision, decision_row, "evaluated_at"),
    View("executions", EXECUTIONS, Execution, execution_row, "started_at"),
    View("outcomes", OUTCOMES, Outcome, outcome_row, "decided_at"),
)
