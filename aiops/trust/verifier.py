"""Outcome verification in event time: did an executed action help the incident it was proposed for?

Pure (no Kafka): fed proposals, executions and incident snapshots in any order, it returns the Outcomes it
can decide. Time is the records' own: an execution's window starts at its `finished_at`, and a snapshot's
`updated_at` moves the watermark (the latest event time seen). For the execution's incident:

- a snapshot `resolved` within the window: `helpful` when the execution succeeded (a failed one is not
  credited: `no_effect`);
- a snapshot within the window that is worse than the incident was when the action ran (more services, or
  a higher severity): `harmful` at once (fail safe: the demotion should not wait for the window to end);
- the watermark past the end of the window with neither: `no_effect`.

Proposals whose outcome was written already (`decided`) are never decided again, so replaying the topics
after a restart writes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from streams.output_records import Execution, Incident, IncidentStatus, Outcome, OutcomeVerdict, Proposal
from streams.records import Severity

# Terminal statuses an outcome is decided for (a started record is not the end; a skipped duplicate ran before).
TERMINAL = {"succeeded", "failed", "outcome_unknown"}
HISTORY = 32  # snapshots kept per incident (an execution compares against the one before it and those after)
SEVERITY_RANK = {Severity.unknown: 0, Severity.info: 1, Severity.warning: 2, Severity.error: 3, Severity.critical: 4}


@dataclass(frozen=True)
class IncidentView:
    status: IncidentStatus
    severity: Severity
    services: frozenset[str]
    at: datetime

    @classmethod
    def of(cls, snapshot: Incident) -> IncidentView:
        return cls(snapshot.status, snapshot.severity, frozenset(snapshot.services), snapshot.updated_at)


@dataclass
class Watched:
    """An execution whose outcome is open: what the incident looked like when the action ran."""

    proposal: Proposal
    execution: Execution
    baseline: IncidentView | None
    deadline: datetime


@dataclass
class OutcomeVerifier:
    window_s: float
    proposals: dict[str, Proposal] = field(default_factory=dict)
    incidents: dict[str, list[IncidentView]] = field(default_factory=dict)  # recent snapshots, oldest first
    waiting: dict[str, Execution] = field(default_factory=dict)  # executions whose proposal was not seen yet
    open: dict[str, Watched] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)
    watermark: datetime = datetime.min.replace(tzinfo=UTC)

    def on_outcome(self, outcome: Outcome) -> None:
        """An Outcome already on the topic (read back at start): never decided again."""
        self.decided.add(outcome.proposal_id)
        self.open.pop(outcome.proposal_id, None)
        self.waiting.pop(outcome.proposal_id, None)

    def on_proposal(self, proposal: Proposal) -> list[Outcome]:
        self.proposals[proposal.id] = proposal
        execution = self.waiting.pop(proposal.id, None)
        return self.on_execution(execution) if execution is not None else []

    def on_execution(self, execution: Execution) -> list[Outcome]:
        pid = execution.proposal_id
        if execution.status.value not in TERMINAL or pid in self.decided or pid in self.open:
            return []
        proposal = self.proposals.get(pid)
        if proposal is None:
            self.waiting[pid] = execution
            return []
        executed_at = execution.finished_at or execution.started_at
        history = self.incidents.get(proposal.incident_id, [])
        before = [v for v in history if v.at <= executed_at]
        watched = self.open[pid] = Watched(proposal, execution, before[-1] if before else None,
                                           executed_at + timedelta(seconds=self.window_s))
        # Snapshots read before the execution (topics interleave in any order) that are later than it count.
        for view in history:
            if executed_at < view.at <= watched.deadline and (outcome := self._judge(watched, view)) is not None:
                return [self._close(pid, outcome), *self._advance(executed_at)]
        return self._advance(executed_at)

    def on_incident(self, snapshot: Incident) -> list[Outcome]:
        view = IncidentView.of(snapshot)
        history = self.incidents.setdefault(snapshot.id, [])
        history.append(view)
        history.sort(key=lambda v: v.at)
        del history[:-HISTORY]
        outcomes = []
        for pid, watched in list(self.open.items()):
            if watched.proposal.incident_id != snapshot.id or view.at > watched.deadline:
                continue
            executed_at = watched.execution.finished_at or watched.execution.started_at
            if view.at < executed_at:
                continue  # an older snapshot arriving late says nothing about the action
            outcome = self._judge(watched, view)
            if outcome is not None:
                outcomes.append(self._close(pid, outcome))
        return outcomes + self._advance(view.at)

    def _judge(self, watched: Watched, view: IncidentView) -> Outcome | None:
        incident = watched.proposal.incident_id
        succeeded = watched.execution.status.value == "succeeded"
        if view.status is IncidentStatus.resolved:
            after = (view.at - (watched.execution.finished_at or watched.execution.started_at)).total_seconds()
            if succeeded:
                return self._outcome(watched, OutcomeVerdict.helpful, view.at,
                                     [f"incident {incident} resolved at {view.at.isoformat()}, {after:.0f}s after "
                                      "the execution"])
            return self._outcome(watched, OutcomeVerdict.no_effect, view.at,
                                 [f"incident {incident} resolved, but the execution {watched.execution.status.value}: "
                                  "not credited to the action"])
        worse = _worsening(watched.baseline, view)
        if worse:
            return self._outcome(watched, OutcomeVerdict.harmful, view.at,
                                 [f"incident {incident} worsened after the execution "
                                  f"({watched.execution.status.value}): {w}" for w in worse])
        return None

    def _advance(self, event_time: datetime) -> list[Outcome]:
        """Move the watermark; windows it passed close as no_effect."""
        self.watermark = max(self.watermark, event_time)
        outcomes = []
        for pid, watched in list(self.open.items()):
            if self.watermark > watched.deadline:
                incident = watched.proposal.incident_id
                outcomes.append(self._close(pid, self._outcome(
                    watched, OutcomeVerdict.no_effect, self.watermark,
                    [f"incident {incident} not resolved within {self.window_s:g}s of the execution "
                     f"(event time reached {self.watermark.isoformat()})"])))
        return outcomes

    def _close(self, pid: str, outcome: Outcome) -> Outcome:
        del self.open[pid]
        self.decided.add(pid)
        return outcome

    def _outcome(self, watched: Watched, verdict: OutcomeVerdict, at: datetime, evidence: list[str]) -> Outcome:
        p, e = watched.proposal, watched.execution
        return Outcome(proposal_id=p.id, execution_id=e.id, incident_id=p.incident_id, action=p.action,
                       environment=p.target.environment, namespace=p.target.namespace, service=p.target.service,
                       execution_status=e.status.value, verdict=verdict, evidence=evidence,
                       executed_at=e.finished_at or e.started_at, decided_at=at, window_s=self.window_s)


def _worsening(baseline: IncidentView | None, view: IncidentView) -> list[str]:
    """How the incident got worse than it was when the action ran (nothing without a baseline to compare)."""
    if baseline is None:
        return []
    worse = []
    added = sorted(view.services - baseline.services)
    if added:
        worse.append(f"services {sorted(baseline.services)} -> {sorted(view.services)} (new: {', '.join(added)})")
    if SEVERITY_RANK[view.severity] > SEVERITY_RANK[baseline.severity]:
        worse.append(f"severity {baseline.severity.value} -> {view.severity.value}")
    return worse
