"""Approvals that cannot pile up, against the real gatekeeper and OPA: junk costs a dead letter, a valid approval
behind thousands of junk ones is decided within seconds, one approval per approver, a few per proposal, and
approvals for a proposal that never comes expire with a record and a ledger tombstone."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric import ec

from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.tokens import sign_approval
from tests.aiops.gatekeeper.conftest import running_harness
from tests.aiops.gatekeeper.harness import params, unique

pytestmark = pytest.mark.integration

JUNK = 3000


def junk_tokens(harness, proposal: dict, count: int) -> list[str]:
    """Forged signatures under alice's key id, tokens of keys nobody registered, and garbage."""
    forger = ec.generate_private_key(ec.SECP256R1())
    digest = action_hash(proposal["action"], proposal["parameters"])
    tokens = []
    for i in range(count):
        if i % 3 == 0:
            tokens.append(sign_approval(forger, harness.keys["alice"].kid, proposal_id=proposal["id"],
                                        action_hash=digest, decision="approve", subject="alice"))
        elif i % 3 == 1:
            tokens.append(sign_approval(forger, f"nobody-{i}", proposal_id=proposal["id"], action_hash=digest,
                                        decision="approve", subject="nobody"))
        else:
            tokens.append(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode() + ".x.y")
    return tokens


MISSING = b"(no ledger record)"


async def ledger_entry(harness, proposal_id: str) -> bytes | None:
    """The newest committed ledger record for this proposal: None for a tombstone, MISSING when there is none."""
    consumer = AIOKafkaConsumer(bootstrap_servers=harness.settings.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        tp = TopicPartition(harness.settings.topic("aiops.gatekeeper.ledger"), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        newest = MISSING
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                newest = next((r.value for r in reversed(records) if r.key == proposal_id.encode()), newest)
        return newest
    finally:
        await consumer.stop()


async def test_a_valid_approval_behind_thousands_of_junk_ones_is_decided_within_seconds(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    topic = harness.settings.topic("aiops.approvals")
    codec = harness.codec("Approval", "aiops.approvals")
    started = time.monotonic()
    sends = []
    for token in junk_tokens(harness, proposal, JUNK):
        record = {"proposal_id": proposal["id"], "decision": "approve", "token": token, "source": "flood",
                  "time": int(time.time() * 1000), "comment": "x" * 200}
        sends.append(await harness.producer.send(topic, codec.encode(record), key=proposal["id"].encode()))
    await asyncio.gather(*sends)
    produced = time.monotonic()
    await harness.approve("alice", proposal)
    sent = time.monotonic()
    decision = await harness.decisions.wait(
        lambda d: d["proposal_id"] == proposal["id"] and d["allow"], timeout_s=60, what="allow after the flood")
    decided = time.monotonic()
    await harness.execution(proposal["id"], "succeeded")
    latency = decided - sent
    print(f"\njunk flood: {JUNK} junk approvals produced in {produced - started:.2f}s; the valid approval behind "
          f"them was decided {latency:.2f}s after it was sent ({decided - started:.2f}s after the first junk)")
    assert latency < 15, f"the valid approval took {latency:.1f}s"
    assert decision["approvals_considered"] == [
        {"decision": "approve", "source": "test", "approver": harness.keys["alice"].kid, "counted": True,
         "reason": None}]
    explained = [d for d in harness.decisions.of(proposal["id"]) if d["trigger"] == "approval" and not d["allow"]]
    assert len(explained) <= harness.settings.gatekeeper_max_approvals_per_proposal
    entry = json.loads(await ledger_entry(harness, proposal["id"]))
    assert len(entry["approvals"]) == 1 and len(json.dumps(entry)) < 20_000
    value, headers = await harness.dead_letter(
        "aiops.approvals", lambda value, headers: "signed by key 'nobody-" in headers.get("aiops.error.message", ""))
    assert "not kept" in headers["aiops.error.message"]


async def test_one_approval_per_approver_the_newest_wins(harness):
    proposal = await harness.propose("drain_node", params("drain_node"))
    await harness.decision(proposal["id"], "proposal")
    await harness.approve("alice", proposal, now=time.time() - 60)
    await harness.decision(proposal["id"], "approval")
    await harness.approve("alice", proposal)  # a fresh token from the same person replaces the first
    second = await harness.decision(proposal["id"], "approval", nth=2)
    assert [c["approver"] for c in second["approvals_considered"]] == [harness.keys["alice"].kid]
    assert "destructive action needs 2 approvals from distinct people, has 1" in second["reasons"]
    await harness.approve("alice", proposal, now=time.time() - 120)  # older than the one kept: not kept
    third = await harness.decision(proposal["id"], "approval", nth=3)
    assert third["approvals_considered"][-1]["reason"].startswith("not kept: alice already gave a newer approval")
    await harness.approve("bob", proposal)
    allowed = await harness.decision(proposal["id"], "approval", nth=4)
    assert allowed["allow"] is True, allowed["reasons"]
    entry = json.loads(await ledger_entry(harness, proposal["id"]))
    assert sorted(a["approver"] for a in entry["approvals"]) == ["alice", "bob"]


@pytest.fixture(scope="module")
async def tight(services, tmp_path_factory, opa_binary, approver_keys, bundle_approvers):
    """A gatekeeper keeping at most 2 approvals per proposal, whose orphan approvals wait 3 seconds."""
    async with running_harness(services, tmp_path_factory.mktemp("tight"), opa_binary, approver_keys,
                               bundle_approvers, gatekeeper_max_approvals_per_proposal=2,
                               gatekeeper_orphan_approval_ttl_s=3.0) as h:
        yield h


async def test_a_proposal_keeps_a_few_approvals_and_explains_a_few_more(tight):
    proposal = await tight.propose("drain_node", params("drain_node"))
    await tight.decision(proposal["id"], "proposal")
    for n, who in enumerate(["mallory", "runbook-reasoner", "carol"], start=1):
        await tight.approve(who, proposal)
        decision = await tight.decision(proposal["id"], "approval", nth=n)
    assert decision["approvals_considered"][-1]["reason"].startswith("not kept: proposal")
    assert "already holds 2 approvals" in decision["approvals_considered"][-1]["reason"]
    # Two explained in Decisions, the rest only dead-lettered: the next one writes no Decision.
    await tight.approve("bob", proposal)
    await tight.approve("alice", proposal)
    await tight.dead_letter("aiops.approvals", lambda value, headers: proposal["id"].encode() in (value or b"")
                            and "already holds 2 approvals" in headers["aiops.error.message"])
    assert len([d for d in tight.decisions.of(proposal["id"]) if d["trigger"] == "approval"]) == 4
    tight.assert_not_executed(proposal["id"])


async def test_approvals_for_a_proposal_that_never_comes_expire_with_a_record_and_a_tombstone(tight):
    ghost = {"id": unique("ghost"), "action": "restart_deployment", "parameters": params("restart_deployment")}
    await tight.send_approval(ghost["id"], tight.token("alice", ghost))
    expired = await tight.decision(ghost["id"], "orphan_expiry", timeout_s=30)
    assert expired["allow"] is False
    assert f"no proposal {ghost['id']} arrived within 3s of its first approval" in expired["reasons"][0]
    deadline = time.monotonic() + 10
    while (entry := await ledger_entry(tight, ghost["id"])) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert entry is None, f"the newest ledger record for the expired approvals is a tombstone, not {entry[:80]!r}"
