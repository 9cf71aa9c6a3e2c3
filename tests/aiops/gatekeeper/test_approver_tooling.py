"""Approver tooling that cannot mislead: `aiops approve` signs the proposal the gatekeeper considers and refuses
ambiguous ids; `aiops keys revoke` removes a key with a signed revocation record, and OPA then refuses it."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aiops.gatekeeper.errors import KeyStoreError, ProposalAmbiguous, ProposalNotFound
from aiops.gatekeeper.keys import KeyStore, add_to_policy_data
from aiops.gatekeeper.lookup import Candidate, choose
from aiops.gatekeeper.revocation import revoke, verify
from streams.output_records import Proposal
from tests import samples
from tests.aiops.gatekeeper.harness import aiops, params

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def proposal(pid: str = "P1", replicas: int = 3) -> Proposal:
    return Proposal.from_avro({**samples.proposal(), "id": pid, "action": "scale_deployment",
                               "parameters": {"environment": "prod", "namespace": "shop", "deployment": "api",
                                              "replicas": replicas}})


# --- which proposal an approver is shown (pure) --------------------------------------------------------------

def candidate(partition: int, offset: int, record: Proposal) -> Candidate:
    return Candidate(partition, offset, record)


def test_the_first_record_is_the_one_considered_and_identical_replays_are_harmless():
    chosen = choose("P1", [candidate(0, 7, proposal()), candidate(0, 9, proposal())], None)
    assert (chosen.offset, chosen.replays, chosen.proposal.parameters["replicas"]) == (7, 1, 3)


def test_an_id_used_for_different_proposals_is_refused():
    with pytest.raises(ProposalAmbiguous, match=r"used for 2 different proposals \(partition 0, offsets \[7, 9\]\)"):
        choose("P1", [candidate(0, 7, proposal()), candidate(0, 9, proposal(replicas=40))], None)


def test_an_id_on_two_partitions_is_refused():
    with pytest.raises(ProposalAmbiguous, match=r"on partitions \[0, 2\]"):
        choose("P1", [candidate(0, 7, proposal()), candidate(2, 1, proposal())], None)


def test_a_ledger_that_holds_another_proposal_is_refused():
    assert choose("P1", [candidate(0, 7, proposal())], proposal(), "open").ledger_status == "open"
    with pytest.raises(ProposalAmbiguous, match="ledger holds another proposal"):
        choose("P1", [candidate(0, 7, proposal())], proposal(replicas=5))


def test_no_candidate_is_not_found():
    with pytest.raises(ProposalNotFound):
        choose("P1", [], None)


# --- revocation (pure) ------------------------------------------------------------------------------------------

@pytest.fixture
def bundle(tmp_path) -> tuple[Path, KeyStore]:
    store = KeyStore(tmp_path / "keys")
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "data.json").write_text(json.dumps({"aiops": {"approvers": {}}}))
    for name, groups in (("alice", ["sre"]), ("bob", ["sre"]), ("root", ["security"])):
        add_to_policy_data(store.create(name, groups), policy)
    return policy, store


def test_revoke_removes_every_key_of_the_approver_with_a_signed_record(bundle):
    policy, store = bundle
    second = KeyStore(store.directory / "laptop").create("alice", ["sre"])
    add_to_policy_data(second, policy)
    [first, other] = revoke(policy, "alice", store.get("root"), "laptop stolen", now=T0)
    data = json.loads((policy / "data.json").read_text())["aiops"]
    assert sorted(k.split("-")[0] for k in data["approvers"]) == ["bob", "root"]
    assert {first["kid"], other["kid"]} == {store.get("alice").kid, second.kid}
    facts = verify(data["key_revocations"][0])
    assert facts["revoked_by"] == "root" and facts["reason"] == "laptop stolen"
    assert facts["revoked_at"] == "2026-11-26T10:00:00+00:00"
    tampered = {**data["key_revocations"][0], "reason": "routine"}
    with pytest.raises(KeyStoreError, match="differs from what was signed"):
        verify(tampered)
    with pytest.raises(KeyStoreError, match="was revoked"):
        add_to_policy_data(store.get("alice"), policy)
    with pytest.raises(KeyStoreError, match="no approver or key named 'alice'"):
        revoke(policy, "alice", store.get("root"), "again")


# --- end to end against the gatekeeper ---------------------------------------------------------------------------

pytestmark = pytest.mark.integration


async def opa_approvers(harness, predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate(await asyncio.to_thread(harness.opa.data, "aiops/approvers") or {}):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("OPA did not reload the approvers")


async def produce_proposal(harness, record: dict, key: bytes | None) -> None:
    await harness.producer.send_and_wait(harness.settings.topic("aiops.proposals"),
                                         harness.codec("Proposal", "aiops.proposals").encode(record), key=key)


async def test_approve_refuses_an_id_used_for_two_different_proposals(harness, cli_env):
    created = await asyncio.to_thread(
        aiops, ["keys", "create", "frank", "--groups", "sre", "--policy-dir", str(harness.opa.bundle)], cli_env)
    assert created.returncode == 0, created.stderr
    first = await harness.propose("scale_deployment", params("scale_deployment", replicas=2))
    await harness.decision(first["id"], "proposal")
    # Someone reuses the id for a bigger change; the gatekeeper dead-letters it, the newest record is this one.
    await produce_proposal(harness, {**first, "parameters": {**first["parameters"], "replicas": 9}},
                           first["id"].encode())
    refused = await asyncio.to_thread(aiops, ["approve", first["id"], "--key", "frank", "--yes"], cli_env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "was used for 2 different proposals" in refused.stderr and "refusing to sign" in refused.stderr
    await asyncio.sleep(1)
    assert [d for d in harness.decisions.of(first["id"]) if d["trigger"] == "approval"] == []


async def test_approve_shows_the_proposal_keyed_by_its_id_not_a_mis_keyed_copy(harness, cli_env):
    await opa_approvers(harness, lambda approvers: any(e["name"] == "frank" for e in approvers.values()))
    real = await harness.propose("scale_deployment", params("scale_deployment", replicas=2))
    await harness.decision(real["id"], "proposal")
    # A copy without a key (the gatekeeper dead-letters it: records must be keyed by their proposal id).
    await produce_proposal(harness, {**real, "parameters": {**real["parameters"], "replicas": 9}}, None)
    approved = await asyncio.to_thread(aiops, ["approve", real["id"], "--key", "frank", "--yes"], cli_env)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert '"replicas": 2' in approved.stdout and '"replicas": 9' not in approved.stdout
    decision = await harness.decision(real["id"], "approval")
    assert decision["allow"] is True, decision["reasons"]
    await harness.execution(real["id"], "succeeded")
    [post] = harness.platform.posts(real["id"])
    assert post.body["parameters"]["replicas"] == 2


async def test_a_revoked_key_approves_nothing(harness, cli_env):
    created = await asyncio.to_thread(
        aiops, ["keys", "create", "grace", "--groups", "security", "--policy-dir", str(harness.opa.bundle)], cli_env)
    assert created.returncode == 0, created.stderr
    frank = json.loads((Path(cli_env["AIOPS_KEY_DIR"]) / "frank.json").read_text())["kid"]
    revoked = await asyncio.to_thread(aiops, ["keys", "revoke", "frank", "--policy-dir", str(harness.opa.bundle),
                                              "--by", "grace", "--reason", "left the team"], cli_env)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert f"revoked {frank} (frank)" in revoked.stdout
    await opa_approvers(harness, lambda approvers: frank not in approvers)
    record = json.loads((harness.opa.bundle / "data.json").read_text())["aiops"]["key_revocations"][-1]
    assert verify(record)["revoked_by"] == "grace"
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    approved = await asyncio.to_thread(aiops, ["approve", proposal["id"], "--key", "frank", "--yes"], cli_env)
    assert approved.returncode == 0  # the CLI can still sign: the gate is what refuses
    decision = await harness.decision(proposal["id"], "approval")
    assert decision["allow"] is False
    assert f"signed by revoked key {frank}" in decision["approvals_considered"][0]["reason"]
    harness.assert_not_executed(proposal["id"])
