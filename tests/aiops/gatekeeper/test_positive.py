"""Allowed actions run, exactly once, through Kafka and the real OPA server: read-only without approval,
state-changing after one valid approval, destructive after two from distinct approvers."""

from __future__ import annotations

import json

import pytest

from tests.aiops.gatekeeper.harness import params

pytestmark = pytest.mark.integration


async def test_read_only_action_runs_without_approval(harness):
    proposal = await harness.propose("collect_diagnostics", params("collect_diagnostics"))
    decision = await harness.decision(proposal["id"], "proposal")
    assert decision["allow"] is True and decision["reasons"] == []
    assert decision["opa_decision_id"] and decision["policy_revision"] == "2026-11-26.1"
    done = await harness.execution(proposal["id"], "succeeded")
    assert done["executor"] == "platform-ctl" and done["decision_id"] == decision["id"]
    assert done["idempotency_key"] == proposal["idempotency_key"]
    started = await harness.execution(proposal["id"], "started")
    assert started["id"] == done["id"]
    [post] = harness.platform.posts(proposal["id"])
    assert post.path == "/v1/actions/collect_diagnostics"
    assert post.idempotency_key == proposal["idempotency_key"]
    assert post.body["target"] == proposal["target"] and post.body["parameters"] == proposal["parameters"]
    assert json.loads(done["request"]) == post.body


async def test_state_changing_action_runs_after_one_valid_approval(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    first = await harness.decision(proposal["id"], "proposal")
    assert first["allow"] is False
    assert "state_changing action needs 1 approval, has 0" in first["reasons"]
    await harness.approve("alice", proposal)
    second = await harness.decision(proposal["id"], "approval")
    assert second["allow"] is True, second["reasons"]
    assert second["approvals_considered"] == [
        {"decision": "approve", "source": "test", "approver": harness.keys["alice"].kid, "counted": True,
         "reason": None}]
    await harness.execution(proposal["id"], "succeeded")
    assert len(harness.platform.posts(proposal["id"])) == 1


async def test_destructive_action_runs_after_two_approvals_from_distinct_people(harness):
    proposal = await harness.propose("drain_node", params("drain_node"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal)
    one = await harness.decision(proposal["id"], "approval")
    assert one["allow"] is False
    assert "destructive action needs 2 approvals from distinct people, has 1" in one["reasons"]
    # The same person approving again (a fresh token) is still one person.
    await harness.approve("alice", proposal)
    again = await harness.decision(proposal["id"], "approval", nth=2)
    assert again["allow"] is False
    await harness.approve("bob", proposal)
    two = await harness.decision(proposal["id"], "approval", nth=3)
    assert two["allow"] is True, two["reasons"]
    await harness.execution(proposal["id"], "succeeded")
    assert len(harness.platform.posts(proposal["id"])) == 1


async def test_webhook_and_dry_run_executors_come_from_the_catalog(harness):
    proposal = await harness.propose("toggle_feature_flag", params("toggle_feature_flag"))
    await harness.approve("bob", proposal)
    done = await harness.execution(proposal["id"], "succeeded")
    assert done["executor"] == "webhook"
    [post] = harness.platform.posts(proposal["id"])
    assert post.path == "/hooks/actions" and post.idempotency_key == proposal["idempotency_key"]


async def test_an_approval_after_execution_changes_nothing(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.approve("alice", proposal)
    await harness.execution(proposal["id"], "succeeded")
    await harness.approve("bob", proposal)
    late = await harness.decision(proposal["id"], "approval", nth=2)
    assert late["allow"] is False and "already executed" in late["reasons"][0]
    assert len(harness.platform.posts(proposal["id"])) == 1
