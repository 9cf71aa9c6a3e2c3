"""The track record: per selector (action, environment, namespace), what the audit topics say happened.

A pure function over Proposals, Decisions, Executions and Outcomes (as read from their topics): approved
and autonomous executions, helpful / no-effect / harmful outcomes, the median time from proposal to the
allowing decision for approved ones, rejections (vetoes, expiries) and their reasons, and the selector's
rung on the ladder: gated, autonomous (a succeeded promote_autonomy execution) or demoted (a Decision
with trigger `demotion` naming that promotion). `promote_autonomy` itself has no track record.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from streams.output_records import Decision, Execution, Outcome, OutcomeVerdict, Proposal

PROMOTE = "promote_autonomy"
DEMOTION_TRIGGER = "demotion"
RAN = {"succeeded", "failed", "outcome_unknown"}


@dataclass(frozen=True, order=True)
class Selector:
    action: str
    environment: str
    namespace: str

    def label(self) -> str:
        return f"{self.action} {self.environment}/{self.namespace}"


@dataclass
class Grant:
    proposal_id: str
    granted_at: datetime
    approvers: list[str]
    demoted_at: datetime | None = None
    demotion_reasons: list[str] = field(default_factory=list)


@dataclass
class TrackRecord:
    selector: Selector
    approved_executions: int = 0
    autonomous_executions: int = 0
    helpful: int = 0
    no_effect: int = 0
    harmful: int = 0
    rejections: int = 0
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    approval_waits_s: list[float] = field(default_factory=list)
    first_execution: datetime | None = None
    last_execution: datetime | None = None
    grant: Grant | None = None
    since_grant: Counter[str] = field(default_factory=Counter)  # verdict -> outcomes of executions after the grant

    @property
    def state(self) -> str:
        if self.grant is None:
            return "gated"
        return "demoted" if self.grant.demoted_at is not None else "autonomous"

    @property
    def median_approval_s(self) -> float | None:
        return statistics.median(self.approval_waits_s) if self.approval_waits_s else None

    def for_policy(self) -> dict[str, Any]:
        """The input OPA's promotion and demotion rules read (policy/earned_autonomy.rego)."""
        def seconds(at: datetime | None) -> int:
            return int(at.timestamp()) if at else 0

        return {
            "action": self.selector.action, "environment": self.selector.environment,
            "namespace": self.selector.namespace, "approved_executions": self.approved_executions,
            "helpful": self.helpful, "no_effect": self.no_effect, "harmful": self.harmful,
            "first_execution_s": seconds(self.first_execution), "last_execution_s": seconds(self.last_execution),
            "outcomes_since_grant": sum(self.since_grant.values()),
            "harmful_since_grant": self.since_grant[OutcomeVerdict.harmful.value],
            "no_effect_since_grant": self.since_grant[OutcomeVerdict.no_effect.value],
        }

    def as_json(self) -> dict[str, Any]:
        grant = asdict(self.grant) if self.grant else None
        if grant:
            grant = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in grant.items()}
        return {
            **asdict(self.selector), "state": self.state, "approved_executions": self.approved_executions,
            "autonomous_executions": self.autonomous_executions, "helpful": self.helpful,
            "no_effect": self.no_effect, "harmful": self.harmful, "median_approval_s": self.median_approval_s,
            "rejections": self.rejections, "rejection_reasons": dict(self.rejection_reasons),
            "first_execution": self.first_execution.isoformat() if self.first_execution else None,
            "last_execution": self.last_execution.isoformat() if self.last_execution else None,
            "grant": grant, "since_grant": dict(self.since_grant),
        }


def selector_of(proposal: Proposal) -> Selector:
    if proposal.action == PROMOTE:
        p = proposal.parameters
        return Selector(str(p.get("subject_action")), str(p.get("environment")), str(p.get("namespace")))
    return Selector(proposal.action, proposal.target.environment, proposal.target.namespace)


def track_records(proposals: list[Proposal], decisions: list[Decision], executions: list[Execution],
                  outcomes: list[Outcome]) -> dict[Selector, TrackRecord]:
    """Every selector's record, from the records in topic order."""
    by_id = {p.id: p for p in proposals}
    allowing: dict[str, Decision] = {}
    last_decision: dict[str, Decision] = {}
    demotions: dict[str, Decision] = {}
    for d in decisions:
        if d.trigger == DEMOTION_TRIGGER:
            demotions.setdefault(d.proposal_id, d)
            continue
        last_decision[d.proposal_id] = d
        if d.allow:
            allowing.setdefault(d.proposal_id, d)
    records: dict[Selector, TrackRecord] = {}

    def record(selector: Selector) -> TrackRecord:
        return records.setdefault(selector, TrackRecord(selector))

    ran: dict[str, Execution] = {}
    for e in executions:
        if e.status.value in RAN:
            ran.setdefault(e.proposal_id, e)
    # Grants first, so that executions and outcomes can be told apart as before or after them.
    for pid, e in ran.items():
        proposal = by_id.get(pid)
        if proposal is None or proposal.action != PROMOTE or e.status.value != "succeeded":
            continue
        rec = record(selector_of(proposal))
        decision = allowing.get(pid)
        approvers = [a.approver or "?" for a in decision.approvals_considered if a.counted] if decision else []
        rec.grant = Grant(pid, e.finished_at or e.started_at, approvers)
        rec.since_grant.clear()
        demotion = demotions.get(pid)
        if demotion is not None:
            rec.grant.demoted_at, rec.grant.demotion_reasons = demotion.evaluated_at, list(demotion.reasons)
    autonomous: set[str] = set()
    for pid, e in ran.items():
        proposal = by_id.get(pid)
        if proposal is None or proposal.action == PROMOTE:
            continue
        rec = record(selector_of(proposal))
        decision = allowing.get(pid)
        counted = [a for a in decision.approvals_considered if a.counted] if decision else []
        at = e.finished_at or e.started_at
        if decision is not None and (decision.autonomy_grant or not counted):
            autonomous.add(pid)
            rec.autonomous_executions += int(proposal.risk_class.value != "read_only")
        else:
            rec.approved_executions += 1
            if decision is not None:
                rec.approval_waits_s.append(max(0.0, (decision.evaluated_at - proposal.created_at).total_seconds()))
        rec.first_execution = min(rec.first_execution or at, at)
        rec.last_execution = max(rec.last_execution or at, at)
    for o in outcomes:
        proposal = by_id.get(o.proposal_id)
        selector = selector_of(proposal) if proposal else Selector(o.action, o.environment, o.namespace)
        if selector.action == PROMOTE:
            continue
        rec = record(selector)
        setattr(rec, o.verdict.value, getattr(rec, o.verdict.value) + 1)
        if rec.grant is not None and o.executed_at >= rec.grant.granted_at:
            rec.since_grant[o.verdict.value] += 1
    for pid, d in last_decision.items():
        proposal = by_id.get(pid)
        if proposal is None or pid in ran or proposal.action == PROMOTE:
            continue
        vetoes = [r for r in d.reasons if "rejected this action" in r]
        if vetoes or d.trigger == "expiry":
            rec = record(selector_of(proposal))
            rec.rejections += 1
            for reason in vetoes or ["expired without enough approvals"]:
                rec.rejection_reasons[_without_index(reason)] += 1
    return records


def _without_index(reason: str) -> str:
    """`approval 0: alice rejected this action` counts as `alice rejected this action`."""
    head, _, rest = reason.partition(": ")
    return rest if head.startswith("approval ") and rest else reason


def evidence_text(rec: TrackRecord, limit: int = 4000) -> str:
    """The record as compact JSON for a promotion proposal's `evidence` parameter (a text of at most 4096)."""
    summary = {k: v for k, v in rec.for_policy().items() if not k.endswith("_since_grant")}
    summary["median_approval_s"] = rec.median_approval_s
    text = json.dumps(summary, sort_keys=True, separators=(",", ":"))
    return text[:limit]
