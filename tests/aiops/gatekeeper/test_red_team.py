"""Red team: every case ends with NO execution (platform-ctl saw no call for it) and a Decision saying why."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.tokens import sign_approval
from tests.aiops.gatekeeper.harness import params, unique

pytestmark = pytest.mark.integration


async def denied_after(harness, proposal, token, decision="approve"):
    """Send one approval and return the Decision it triggered, after checking it denies and nothing ran."""
    await harness.decision(proposal["id"], "proposal")
    await harness.send_approval(proposal["id"], token, decision)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False
    assert verdict["opa_decision_id"] and verdict["policy_revision"] == "2026-11-26.1"
    harness.assert_not_executed(proposal["id"])
    return verdict


def reasons_of(decision) -> str:
    return " | ".join(decision["reasons"])


async def test_forged_signature(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    # Signed with some other private key, claiming alice's key id.
    forger = ec.generate_private_key(ec.SECP256R1())
    token = sign_approval(forger, harness.keys["alice"].kid, proposal_id=proposal["id"],
                          action_hash=action_hash(proposal["action"], proposal["parameters"]),
                          decision="approve", subject="alice")
    verdict = await denied_after(harness, proposal, token)
    assert f"signature does not verify with key {harness.keys['alice'].kid}" in reasons_of(verdict)
    assert verdict["approvals_considered"][0]["counted"] is False


async def test_tampered_token_payload(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    header, _, signature = harness.token("alice", proposal).split(".")
    other = harness.token("alice", proposal, proposal_id="another").split(".")[1]
    verdict = await denied_after(harness, proposal, f"{header}.{other}.{signature}")
    assert "signature does not verify" in reasons_of(verdict)


async def test_valid_token_signed_by_an_unknown_key(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    verdict = await denied_after(harness, proposal, harness.token("eve", proposal))
    assert f"signed by unknown key {harness.keys['eve'].kid}" in reasons_of(verdict)


async def test_expired_token(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    token = harness.token("alice", proposal, now=time.time() - 7200, ttl_s=3600)
    verdict = await denied_after(harness, proposal, token)
    assert "token expired" in reasons_of(verdict)


async def test_token_for_another_proposal(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    other = await harness.propose("restart_deployment", proposal["parameters"])
    verdict = await denied_after(harness, proposal, harness.token("alice", other))
    assert f"token is for proposal {other['id']}, not {proposal['id']}" in reasons_of(verdict)


async def test_token_for_this_proposal_with_altered_parameters(harness):
    proposal = await harness.propose("scale_deployment", params("scale_deployment", replicas=4))
    altered = {**proposal["parameters"], "replicas": 40}
    verdict = await denied_after(harness, proposal, harness.token("alice", proposal, parameters=altered))
    assert "action or parameters differ from what was approved" in reasons_of(verdict)


@pytest.mark.parametrize("who", ["requested_by", "proposer"])
async def test_self_approval(harness, who):
    if who == "requested_by":
        proposal = await harness.propose("restart_deployment", params("restart_deployment"), requested_by="alice")
        verdict = await denied_after(harness, proposal, harness.token("alice", proposal))
        assert "alice requested this action and cannot approve it" in reasons_of(verdict)
    else:
        proposal = await harness.propose("restart_deployment", params("restart_deployment"),
                                         proposer="runbook-reasoner")
        verdict = await denied_after(harness, proposal, harness.token("runbook-reasoner", proposal))
        assert "runbook-reasoner proposed this action and cannot approve it" in reasons_of(verdict)


async def test_approver_outside_the_allowed_groups(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    verdict = await denied_after(harness, proposal, harness.token("mallory", proposal))
    assert "mallory is not in a group allowed to approve restart_deployment (sre, platform)" in reasons_of(verdict)


async def test_single_approval_on_a_destructive_action(harness):
    proposal = await harness.propose("purge_queue", params("purge_queue"))
    verdict = await denied_after(harness, proposal, harness.token("alice", proposal))
    assert "destructive action needs 2 approvals from distinct people, has 1" in verdict["reasons"]
    assert verdict["approvals_considered"][0]["counted"] is True  # valid, just not enough


async def test_approval_arriving_after_the_proposal_expired(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"), expires_in_s=2)
    expiry = await harness.decision(proposal["id"], "expiry", timeout_s=20)
    assert expiry["allow"] is False and "proposal expired at" in reasons_of(expiry)
    await harness.approve("alice", proposal)
    verdict = await harness.decision(proposal["id"], "approval")
    assert verdict["allow"] is False and "proposal expired at" in reasons_of(verdict)
    harness.assert_not_executed(proposal["id"])


async def test_action_not_in_the_catalog(harness):
    parameters = {"environment": "prod", "namespace": "shop", "service": unique("svc")}
    proposal = await harness.propose("delete_namespace", parameters)
    verdict = await harness.decision(proposal["id"], "proposal")
    assert verdict["allow"] is False
    assert "action delete_namespace is not in the action catalog" in reasons_of(verdict)
    assert "gatekeeper: invalid action 'delete_namespace'" in reasons_of(verdict)
    await harness.approve("alice", proposal)
    again = await harness.decision(proposal["id"], "approval")
    assert again["allow"] is False
    harness.assert_not_executed(proposal["id"])


async def test_target_outside_the_allowlist(harness):
    proposal = await harness.propose("collect_diagnostics", params("collect_diagnostics", environment="sandbox"))
    verdict = await harness.decision(proposal["id"], "proposal")
    assert verdict["allow"] is False
    assert "target environment sandbox not allowed for action collect_diagnostics" in reasons_of(verdict)
    harness.assert_not_executed(proposal["id"])


async def test_target_that_disagrees_with_the_parameters(harness):
    # The allowlist sees the target; the executor acts on the parameters: code makes them agree.
    parameters = params("collect_diagnostics", environment="prod")
    proposal = await harness.propose("collect_diagnostics", parameters,
                                     target={"environment": "dev", "namespace": "shop", "service": "x"})
    verdict = await harness.decision(proposal["id"], "proposal")
    assert verdict["allow"] is False and "is not the target its parameters name" in reasons_of(verdict)
    harness.assert_not_executed(proposal["id"])


async def test_veto_denies_even_with_enough_approvals(harness):
    proposal = await harness.propose("drain_node", params("drain_node"))
    await harness.decision(proposal["id"], "proposal")
    await harness.send_approval(proposal["id"], harness.token("carol", proposal, decision="reject"), "reject")
    await harness.decision(proposal["id"], "approval")
    await harness.approve("alice", proposal)
    await harness.approve("bob", proposal)
    verdict = await harness.decision(proposal["id"], "approval", nth=3)
    assert verdict["allow"] is False and "carol rejected this action" in reasons_of(verdict)
    harness.assert_not_executed(proposal["id"])


async def test_replayed_token_is_not_counted_again_nor_for_another_proposal(harness):
    first = await harness.propose("drain_node", params("drain_node"))
    second = await harness.propose("drain_node", params("drain_node"))
    await harness.decision(first["id"], "proposal")
    await harness.decision(second["id"], "proposal")
    token = harness.token("alice", first)
    await harness.send_approval(first["id"], token)
    await harness.decision(first["id"], "approval")
    await harness.send_approval(first["id"], token, source="replayed")
    replay = await harness.decision(first["id"], "approval", nth=2)
    assert replay["allow"] is False
    assert replay["approvals_considered"][1]["counted"] is False
    assert "replay: token jti" in replay["approvals_considered"][1]["reason"]
    await harness.send_approval(second["id"], token)
    elsewhere = await harness.decision(second["id"], "approval")
    assert elsewhere["allow"] is False
    assert f"already presented for proposal {first['id']}" in elsewhere["approvals_considered"][0]["reason"]
    harness.assert_not_executed(first["id"])
    harness.assert_not_executed(second["id"])


async def test_malformed_records_go_to_the_dead_letter_topic(harness):
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from aiops.core.deadletter import read_headers

    topic = harness.settings.topic("aiops.approvals")
    await harness.producer.send_and_wait(topic, b"not an approval", key=b"p-bad")
    await harness.producer.send_and_wait(harness.settings.topic("aiops.proposals"), b"\xc3\x01garbage",
                                         key=b"p-bad")
    found = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=harness.settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(f"{topic}.dlq", 0), TopicPartition(harness.settings.topic("aiops.proposals.dlq"), 0)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + 30
        while len(found) < 2 and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    found[tp.topic] = (record.value, read_headers(record.headers))
    finally:
        await consumer.stop()
    value, headers = found[f"{topic}.dlq"]
    assert value == b"not an approval" and "aiops.error.message" in headers
    _, headers = found[harness.settings.topic("aiops.proposals.dlq")]
    assert "Avro" in headers["aiops.error.message"] or "fingerprint" in headers["aiops.error.message"]


async def test_nothing_denied_ever_reached_platform_ctl(harness):
    # Runs last in this module: every proposal whose Decisions all denied has no call and no Execution.
    denied = {d["proposal_id"] for d in harness.decisions.records}
    denied -= {d["proposal_id"] for d in harness.decisions.records if d["allow"]}
    assert denied
    for proposal_id in denied:
        harness.assert_not_executed(proposal_id)
