"""The track record from the audit records: counts, the rung on the ladder, and the policy's input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.trust.track_record import Selector, evidence_text, track_records
from streams.output_records import Decision, Execution, Outcome, Proposal
from tests import samples

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
RESTART = Selector("restart_deployment", "prod", "shop")


def proposal(pid: str, action: str = "restart_deployment", **params: Any) -> Proposal:
    parameters = params or {"environment": "prod", "namespace": "shop", "deployment": "orders-api"}
    return Proposal.from_avro({**samples.proposal(), "id": pid, "action": action, "parameters": parameters,
                               "risk_class": "destructive" if action == "promote_autonomy" else "state_changing",
                               "created_at": T0})


def decision(pid: str, allow: bool, approvers: list[str], trigger: str = "approval", at: timedelta = timedelta(0),
             reasons: list[str] | None = None) -> Decision:
    return Decision.from_avro({**samples.decision(), "id": f"d-{pid}-{trigger}", "proposal_id": pid, "allow": allow,
                               "trigger": trigger, "reasons": reasons or [], "evaluated_at": T0 + at,
                               "approvals_considered": [{"decision": "approve", "source": "cli", "approver": a,
                                                         "counted": True, "reason": None} for a in approvers]})


def execution(pid: str, at: timedelta, status: str = "succeeded") -> Execution:
    return Execution.from_avro({**samples.execution(), "id": f"e-{pid}", "proposal_id": pid, "status": status,
                                "started_at": T0 + at, "finished_at": T0 + at})


def outcome(pid: str, verdict: str, at: timedelta) -> Outcome:
    return Outcome.from_avro({**samples.outcome(), "proposal_id": pid, "verdict": verdict,
                              "executed_at": T0 + at, "decided_at": T0 + at})


def test_counts_median_and_policy_input():
    proposals = [proposal("a"), proposal("b"), proposal("c")]
    decisions = [decision("a", True, ["alice"], at=timedelta(seconds=60)),
                 decision("b", True, ["bob"], at=timedelta(seconds=180)),
                 decision("c", False, [], trigger="expiry")]
    executions = [execution("a", timedelta(days=1)), execution("b", timedelta(days=15))]
    outcomes = [outcome("a", "helpful", timedelta(days=1)), outcome("b", "no_effect", timedelta(days=15))]
    rec = track_records(proposals, decisions, executions, outcomes)[RESTART]
    assert (rec.approved_executions, rec.autonomous_executions, rec.helpful, rec.no_effect) == (2, 0, 1, 1)
    assert rec.median_approval_s == 120 and rec.state == "gated"
    assert rec.rejections == 1 and rec.rejection_reasons == {"expired without enough approvals": 1}
    policy = rec.for_policy()
    assert policy["last_execution_s"] - policy["first_execution_s"] == 14 * 86400
    assert '"approved_executions":2' in evidence_text(rec)


def test_grant_autonomy_and_demotion_from_the_records():
    promo = proposal("promo", "promote_autonomy", environment="prod", namespace="shop",
                     subject_action="restart_deployment", evidence="{}")
    proposals = [proposal("a"), promo, proposal("auto")]
    decisions = [decision("a", True, ["alice"]), decision("promo", True, ["olivia", "oscar"]),
                 decision("auto", True, [], trigger="proposal")]
    executions = [execution("a", timedelta(hours=1)), execution("promo", timedelta(hours=2)),
                  execution("auto", timedelta(hours=3))]
    outcomes = [outcome("a", "helpful", timedelta(hours=1)), outcome("auto", "harmful", timedelta(hours=3))]
    rec = track_records(proposals, decisions, executions, outcomes)[RESTART]
    assert rec.state == "autonomous" and rec.grant is not None and rec.grant.approvers == ["olivia", "oscar"]
    assert (rec.approved_executions, rec.autonomous_executions) == (1, 1)
    assert rec.for_policy()["harmful_since_grant"] == 1 and rec.for_policy()["outcomes_since_grant"] == 1
    demoted = track_records(proposals, [*decisions, decision("promo", False, [], trigger="demotion",
                                                             reasons=["trust ladder: harmful"])],
                            executions, outcomes)[RESTART]
    assert demoted.state == "demoted" and demoted.grant and demoted.grant.demotion_reasons == ["trust ladder: harmful"]
    assert demoted.as_json()["grant"]["proposal_id"] == "promo"


def test_vetoes_are_rejections_with_their_reasons():
    rec = track_records([proposal("v")], [decision("v", False, [], reasons=[
        "approval 0: carol rejected this action"])], [], [])[RESTART]
    assert rec.rejections == 1 and rec.rejection_reasons == {"carol rejected this action": 1}
