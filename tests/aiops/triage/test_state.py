"""The triage state machine without a broker: when an incident is triaged, when it is written back."""

from __future__ import annotations

from aiops.triage.state import Step, TriageState
from streams.output_records import Incident, IncidentStatus, Proposal, RootCause
from tests import samples

INCIDENT = Incident.from_avro(samples.incident())
PROPOSAL = Proposal.from_avro(samples.proposal())


def snapshot(root: str | None, status: str = "open") -> Incident:
    return INCIDENT.model_copy(update={"status": IncidentStatus(status), "root_cause": RootCause(service=root,
                                                                                                reason="...")})


def proposal(pid: str, action: str = "collect_diagnostics") -> Proposal:
    return PROPOSAL.model_copy(update={"id": pid, "action": action, "parameters": {"service": "orders-db"}})


def test_an_incident_is_triaged_when_its_root_cause_is_named_and_again_when_it_changes():
    state = TriageState()
    assert state.next_step(snapshot(None)) is Step.nothing
    assert state.next_step(snapshot("orders-db")) is Step.propose
    state = state.proposed("orders-db", [proposal("p1")])
    assert state.next_step(snapshot("orders-db", "updated")) is Step.nothing
    assert state.next_step(snapshot("orders-api", "updated")) is Step.propose


def test_proposals_are_remembered_once_and_only_what_the_write_back_needs():
    state = TriageState().proposed("orders-db", [proposal("p1"), proposal("p2", "restart_deployment")])
    state = state.proposed("orders-api", [proposal("p2", "restart_deployment"), proposal("p3")])
    assert [p["id"] for p in state.proposals] == ["p1", "p2", "p3"]
    assert set(state.proposals[0]) == {"id", "action", "parameters"}
    assert state.root == "orders-api"


def test_a_proposal_is_sent_once_even_when_the_root_cause_changes_and_changes_back():
    state = TriageState().proposed("orders-db", [proposal("p1"), proposal("p2", "restart_deployment")])
    again = [proposal("p2", "restart_deployment"), proposal("p3")]
    assert [p.id for p in state.unsent(again)] == ["p3"]
    assert TriageState().unsent(again) == again


def test_a_resolved_incident_is_written_back_once_with_how_its_actions_ended():
    state = TriageState().proposed("orders-db", [proposal("p1"), proposal("p2", "restart_deployment")])
    assert state.next_step(snapshot("orders-db", "resolved")) is Step.write_back
    outcomes = {"p2": "succeeded"}
    actions = state.actions_taken(lambda pid: outcomes.get(pid, "proposed"))
    assert [(a["action"], a["status"]) for a in actions] == [("collect_diagnostics", "proposed"),
                                                             ("restart_deployment", "succeeded")]
    state = state.wrote_back()
    assert state.next_step(snapshot("orders-db", "resolved")) is Step.nothing


def test_the_table_value_round_trips_and_an_unknown_incident_starts_empty():
    state = TriageState().proposed("orders-db", [proposal("p1")]).wrote_back()
    assert TriageState.from_table(state.to_table()) == state
    assert TriageState.from_table(None) == TriageState()
    # The table layout written before this module existed reads the same.
    legacy = {"root": "orders-db", "proposals": [{"id": "p1", "action": "a", "parameters": {}}], "written_back": False}
    assert TriageState.from_table(legacy).to_table() == legacy
