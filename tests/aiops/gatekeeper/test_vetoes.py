"""The veto's semantics, end to end. Before execution a valid rejection blocks (any approvals notwithstanding:
test_red_team.py). After execution it cannot undo anything: it is recorded in a Decision (trigger `veto`), and
where the catalog names a compensating action, that action is proposed as a new proposal, requested by the
person who vetoed, which goes through the gate like any other."""

from __future__ import annotations

import pytest

from aiops.gatekeeper.compensation import compensation_id
from tests.aiops.gatekeeper.harness import params

pytestmark = pytest.mark.integration


async def test_a_veto_after_execution_is_recorded_and_proposes_the_compensating_action(harness):
    proposal = await harness.propose("toggle_feature_flag", params("toggle_feature_flag", enabled=True))
    await harness.approve("bob", proposal)
    await harness.execution(proposal["id"], "succeeded")
    await harness.send_approval(proposal["id"], harness.token("carol", proposal, "reject"), "reject")
    veto = await harness.decision(proposal["id"], "veto")
    assert veto["allow"] is False
    assert "carol rejected this action after it had started" in veto["reasons"][0]
    undo_id = compensation_id(proposal["id"])
    assert (f"gatekeeper: proposed the compensating action toggle_feature_flag as proposal {undo_id} (it needs "
            "approval like any other)") in veto["reasons"]
    # The compensating proposal goes through the gate: it needs an approval, and not from carol, who asked.
    first = await harness.decision(undo_id, "proposal")
    assert first["allow"] is False and "state_changing action needs 1 approval, has 0" in first["reasons"]
    undo = {"id": undo_id, "action": "toggle_feature_flag",
            "parameters": {**proposal["parameters"], "enabled": False}}
    await harness.approve("carol", undo)
    self_approved = await harness.decision(undo_id, "approval")
    assert "carol requested this action and cannot approve it" in " ".join(self_approved["reasons"])
    await harness.approve("alice", undo)
    assert (await harness.decision(undo_id, "approval", nth=2))["allow"] is True
    await harness.execution(undo_id, "succeeded")
    [post] = harness.platform.posts(undo_id)
    assert post.body["parameters"]["enabled"] is False and post.body["parameters"]["flag"] == "new-checkout"
    assert len(harness.platform.posts(proposal["id"])) == 1  # the original ran once, and was not undone by itself


async def test_a_veto_after_execution_without_a_compensating_action_is_only_recorded(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.approve("alice", proposal)
    await harness.execution(proposal["id"], "succeeded")
    await harness.send_approval(proposal["id"], harness.token("carol", proposal, "reject"), "reject")
    veto = await harness.decision(proposal["id"], "veto")
    assert veto["allow"] is False and "carol rejected this action after it had started" in veto["reasons"][0]
    assert "gatekeeper: the catalog names no compensating action for restart_deployment" in veto["reasons"]
    assert len(harness.platform.posts(proposal["id"])) == 1
