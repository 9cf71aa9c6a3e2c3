"""Outcome verification in event time: helpful, no_effect and harmful, each at its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops.trust.verifier import OutcomeVerifier
from streams.output_records import Execution, Incident, Proposal
from tests import samples

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
WINDOW = 600.0


def proposal(pid: str = "p1") -> Proposal:
    return Proposal.from_avro({**samples.proposal(), "id": pid, "incident_id": f"inc-{pid}",
                               "parameters": {"environment": "prod", "namespace": "shop", "deployment": "orders-api"}})


def execution(pid: str = "p1", status: str = "succeeded", at: datetime = T0) -> Execution:
    return Execution.from_avro({**samples.execution(), "proposal_id": pid, "status": status, "started_at": at,
                                "finished_at": at + timedelta(seconds=1)})


def incident(pid: str = "p1", at: datetime = T0, status: str = "open", severity: str = "error",
             services: tuple[str, ...] = ("orders-api",)) -> Incident:
    return Incident.from_avro({**samples.incident(), "id": f"inc-{pid}", "status": status, "severity": severity,
                               "services": list(services), "updated_at": at})


def watching(status: str = "succeeded") -> OutcomeVerifier:
    v = OutcomeVerifier(WINDOW)
    assert v.on_incident(incident(at=T0 - timedelta(minutes=1))) == []
    assert v.on_proposal(proposal()) == []
    assert v.on_execution(execution(status=status)) == []
    return v


def test_resolved_within_the_window_is_helpful():
    v = watching()
    [outcome] = v.on_incident(incident(at=T0 + timedelta(seconds=WINDOW), status="resolved"))
    assert outcome.verdict.value == "helpful" and outcome.proposal_id == "p1"
    assert "resolved" in outcome.evidence[0] and outcome.window_s == WINDOW
    assert (outcome.environment, outcome.namespace, outcome.service) == ("prod", "shop", "orders-api")


def test_resolved_after_a_failed_execution_is_not_credited():
    v = watching("failed")
    [outcome] = v.on_incident(incident(at=T0 + timedelta(seconds=30), status="resolved"))
    assert outcome.verdict.value == "no_effect" and "not credited" in outcome.evidence[0]


def test_resolved_after_the_window_is_no_effect_decided_by_event_time():
    v = watching()
    # Another incident's snapshot moves event time past the window: the open outcome closes.
    [outcome] = v.on_incident(incident("other", at=T0 + timedelta(seconds=WINDOW + 2)))
    assert outcome.verdict.value == "no_effect" and "not resolved within 600s" in outcome.evidence[0]
    assert v.on_incident(incident(at=T0 + timedelta(seconds=WINDOW + 3), status="resolved")) == []


def test_still_open_at_the_end_of_the_window_stays_open_until_event_time_passes_it():
    v = watching()
    assert v.on_incident(incident(at=T0 + timedelta(seconds=WINDOW))) == []
    assert v.open


def test_worse_within_the_window_is_harmful_at_once():
    v = watching()
    [outcome] = v.on_incident(incident(at=T0 + timedelta(seconds=5), severity="critical",
                                       services=("orders-api", "web-frontend")))
    assert outcome.verdict.value == "harmful"
    assert any("new: web-frontend" in e for e in outcome.evidence)
    assert any("severity error -> critical" in e for e in outcome.evidence)


def test_same_or_milder_is_not_harmful():
    v = watching()
    assert v.on_incident(incident(at=T0 + timedelta(seconds=5), severity="warning")) == []


def test_snapshot_read_before_the_execution_still_counts():
    v = OutcomeVerifier(WINDOW)
    v.on_incident(incident(at=T0 - timedelta(minutes=1)))
    v.on_incident(incident(at=T0 + timedelta(seconds=20), status="resolved"))  # topics interleave in any order
    v.on_proposal(proposal())
    [outcome] = v.on_execution(execution())
    assert outcome.verdict.value == "helpful"


def test_execution_before_its_proposal_waits_for_it():
    v = OutcomeVerifier(WINDOW)
    v.on_incident(incident(at=T0 - timedelta(minutes=1)))
    assert v.on_execution(execution()) == []
    assert v.on_proposal(proposal()) == []
    [outcome] = v.on_incident(incident(at=T0 + timedelta(seconds=20), status="resolved"))
    assert outcome.verdict.value == "helpful"


def test_started_and_duplicate_records_are_not_outcomes_and_replays_decide_nothing_twice():
    v = OutcomeVerifier(WINDOW)
    v.on_proposal(proposal())
    assert v.on_execution(execution(status="started")) == [] and not v.open
    assert v.on_execution(execution(status="skipped_duplicate")) == [] and not v.open
    assert v.on_execution(execution()) == []
    [outcome] = v.on_incident(incident(at=T0 + timedelta(seconds=9), status="resolved"))
    again = OutcomeVerifier(WINDOW)
    again.on_outcome(outcome)
    again.on_proposal(proposal())
    assert again.on_execution(execution()) == [] and not again.open
