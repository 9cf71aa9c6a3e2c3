"""Parameters and targets that cannot be abused, and blast radius from what the action really touches, against
the real gatekeeper, OPA and platform-ctl: every attack ends with no call to platform-ctl."""

from __future__ import annotations

import json

import pytest

from tests.aiops.gatekeeper.harness import params, unique

pytestmark = pytest.mark.integration


def reasons_of(decision) -> str:
    return " | ".join(decision["reasons"])


@pytest.mark.parametrize("service", ["../../kube-system", "orders-api; rm -rf /"])
async def test_read_only_action_on_a_hostile_name_never_runs(harness, service):
    proposal = await harness.propose("collect_diagnostics", params("collect_diagnostics", service=service))
    verdict = await harness.decision(proposal["id"], "proposal")
    assert verdict["allow"] is False
    assert "parameter service does not fit its kind name" in verdict["reasons"]  # OPA, independently
    assert "gatekeeper: invalid action 'collect_diagnostics': parameter 'service' must be a Kubernetes name" \
        in reasons_of(verdict)  # code
    harness.assert_not_executed(proposal["id"])


async def test_a_name_with_a_newline_is_refused_at_decode(harness):
    proposal = await harness.propose("collect_diagnostics", params("collect_diagnostics", service="orders-api\nx"))
    _, headers = await harness.dead_letter(
        "aiops.proposals", lambda value, headers: proposal["id"].encode() in (value or b""))
    assert "target.service must be a printable string" in headers["aiops.error.message"]
    harness.assert_not_executed(proposal["id"])


async def test_approved_restart_with_a_namespace_path_never_runs(harness):
    proposal = await harness.propose("restart_deployment",
                                     params("restart_deployment", namespace="shop/../../kube-system"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert "parameter namespace does not fit its kind name" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_a_well_formed_namespace_outside_the_allowlist_is_denied(harness):
    proposal = await harness.propose("collect_diagnostics", params("collect_diagnostics", namespace="kube-system"))
    verdict = await harness.decision(proposal["id"], "proposal")
    assert verdict["allow"] is False
    assert "target namespace kube-system not allowed for action collect_diagnostics" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_blast_radius_is_counted_by_platform_ctl_not_taken_from_the_proposal(harness):
    deployment = unique("big")
    harness.platform.pods[deployment] = 40  # the proposal says blast_radius 1
    proposal = await harness.propose("restart_deployment", params("restart_deployment", deployment=deployment))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert "blast radius 40 (40 pods counted by platform-ctl) exceeds cap 10" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_scaling_to_zero_counts_the_pods_it_removes(harness):
    deployment = unique("wide")
    harness.platform.pods[deployment] = 12
    proposal = await harness.propose("scale_deployment",
                                     params("scale_deployment", deployment=deployment, replicas=0))
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert "blast radius 12 (12 pods counted by platform-ctl) exceeds cap 10" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_scaling_up_counts_the_pods_it_creates(harness):
    deployment = unique("grow")
    harness.platform.pods[deployment] = 2
    proposal = await harness.propose("scale_deployment",
                                     params("scale_deployment", deployment=deployment, replicas=30))
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert "blast radius 30 (2 pods counted by platform-ctl, at least replicas) exceeds cap 10" in verdict["reasons"]
    harness.assert_not_executed(proposal["id"])


async def test_the_catalogs_worst_case_applies_when_platform_ctl_cannot_be_asked(harness):
    deployment = unique("dark")
    harness.platform.unreadable.add(deployment)
    proposal = await harness.propose("restart_deployment", params("restart_deployment", deployment=deployment))
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert ("blast radius 50 (the action catalog's worst case; platform-ctl could not be asked: platform-ctl "
            "footprint lookup answered HTTP 503") in reasons_of(verdict)
    harness.assert_not_executed(proposal["id"])


async def test_the_executor_receives_only_validated_values(harness):
    parameters = {**params("get_pod_logs"), "since_minutes": None, "tail_lines": 200}
    proposal = await harness.propose("get_pod_logs", parameters)
    done = await harness.execution(proposal["id"], "succeeded")
    [post] = harness.platform.posts(proposal["id"])
    expected = {k: v for k, v in parameters.items() if v is not None}
    assert post.body["parameters"] == expected and json.loads(done["request"])["parameters"] == expected
    assert post.body["target"] == {"environment": "prod", "namespace": "shop", "service": parameters["service"]}
