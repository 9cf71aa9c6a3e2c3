"""No single record can stop the gatekeeper: for every topic it consumes, records at and above the per-record
limit, with valid shapes and huge fields, and after each the gatekeeper still decides (and runs) a control
proposal. Records at the limit are decoded with their free text cut; records above it are dead-lettered
before decoding, with a truncated copy and the error in headers; nothing it writes grows past the limit.

The topics allow records larger than the gatekeeper's limit (max.message.bytes raised to 3 MiB, as an operator
might), so that "above the limit" records can exist at all.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from tests.aiops.gatekeeper.conftest import running_harness
from tests.aiops.gatekeeper.harness import params, unique
from tests.aiops.gatekeeper.test_approval_intake import ledger_entry

pytestmark = pytest.mark.integration

LIMIT = 1_000_000
TOPIC_MAX = 3 * 1024 * 1024


@pytest.fixture(scope="module")
async def roomy(services, tmp_path_factory, opa_binary, approver_keys, bundle_approvers):
    async with running_harness(services, tmp_path_factory.mktemp("roomy"), opa_binary, approver_keys,
                               bundle_approvers, max_record_bytes=LIMIT) as h:
        admin = AdminClient({"bootstrap.servers": h.settings.kafka_bootstrap})
        entry = ConfigEntry("max.message.bytes", str(TOPIC_MAX), incremental_operation=AlterConfigOpType.SET)
        resources = [ConfigResource("topic", h.settings.topic(name), incremental_configs=[entry])
                     for name in ("aiops.proposals", "aiops.approvals", "aiops.executions")]
        for future in admin.incremental_alter_configs(resources).values():
            future.result(timeout=30)
        big = AIOKafkaProducer(bootstrap_servers=h.settings.kafka_bootstrap, acks="all",
                               max_request_size=TOPIC_MAX)
        await big.start()
        h.big = big  # type: ignore[attr-defined]
        try:
            yield h
        finally:
            await big.stop()


async def still_decides(h) -> None:
    """A control proposal after the bad records: decided and executed."""
    control = await h.propose("collect_diagnostics", params("collect_diagnostics"))
    decision = await h.decision(control["id"], "proposal", timeout_s=60)
    assert decision["allow"] is True, decision["reasons"]
    await h.execution(control["id"], "succeeded", timeout_s=60)


def sized(encode, record: dict, field_path: tuple[str, ...], size: int) -> bytes:
    """The record encoded at exactly `size` bytes, by growing one text field."""
    def with_text(n: int) -> bytes:
        copy = json.loads(json.dumps(record, default=str))
        target = copy
        for name in field_path[:-1]:
            target = target[name]
        target[field_path[-1]] = "x" * n
        for key in ("created_at", "expires_at"):
            if key in copy:
                copy[key] = record[key]
        return encode(copy)
    base = len(with_text(0))
    value = with_text(size - base)
    grown = size - base
    while len(value) > size:  # varint lengths: step back until it fits
        grown -= 1
        value = with_text(grown)
    return value


def proposal_record(pid: str) -> dict:
    now = datetime.now(UTC)
    parameters = params("collect_diagnostics")
    return {"id": pid, "incident_id": f"inc-{pid}", "action": "collect_diagnostics", "parameters": parameters,
            "target": {"environment": "prod", "namespace": "shop", "service": parameters["service"]},
            "risk_class": "read_only", "blast_radius": 1, "rationale": "",
            "evidence": [{"kind": "alert", "ref": "fp-1", "summary": "x"}], "confidence": 0.5,
            "proposer": {"kind": "reasoner", "name": "runbook-reasoner", "version": "1", "note": None},
            "requested_by": None, "created_at": now, "expires_at": now + timedelta(minutes=15),
            "idempotency_key": f"{pid}:collect_diagnostics"}


async def test_proposals_at_and_above_the_limit(roomy):
    codec = roomy.codec("Proposal", "aiops.proposals")
    topic = roomy.settings.topic("aiops.proposals")
    at_id, above_id = unique("at"), unique("above")
    at = sized(codec.encode, proposal_record(at_id), ("rationale",), LIMIT - len(at_id))
    above = sized(codec.encode, proposal_record(above_id), ("rationale",), 2 * LIMIT)
    await roomy.big.send_and_wait(topic, at, key=at_id.encode())
    await roomy.big.send_and_wait(topic, above, key=above_id.encode())
    decided = await roomy.decision(at_id, "proposal", timeout_s=60)  # decoded, its rationale cut
    assert decided["allow"] is True, decided["reasons"]
    entry = json.loads(await ledger_entry(roomy, at_id))
    assert len(entry["proposal"]["rationale"]) == 4000 and len(json.dumps(entry)) < 100_000
    value, headers = await roomy.dead_letter(
        "aiops.proposals", lambda value, headers: headers.get("aiops.error.class") == "RecordTooLarge")
    assert len(value) == roomy.settings.dead_letter_copy_bytes
    assert headers["aiops.error.value_truncated"] == f"{len(above)} bytes, first 65536 copied"
    assert "larger than this consumer's limit of 1000000 bytes" in headers["aiops.error.message"]
    roomy.assert_not_executed(above_id)
    await still_decides(roomy)


async def test_approvals_at_and_above_the_limit(roomy):
    # The crash from the issue: two approvals with huge comments, each fitting the topic.
    proposal = await roomy.propose("drain_node", params("drain_node"))
    await roomy.decision(proposal["id"], "proposal")
    codec = roomy.codec("Approval", "aiops.approvals")
    topic = roomy.settings.topic("aiops.approvals")
    key = proposal["id"].encode()
    for who in ("alice", "bob"):
        record = {"proposal_id": proposal["id"], "decision": "approve", "token": roomy.token(who, proposal),
                  "source": "cli", "time": int(time.time() * 1000), "comment": ""}
        await roomy.big.send_and_wait(topic, sized(codec.encode, record, ("comment",), LIMIT - len(key)), key=key)
    allowed = await roomy.decision(proposal["id"], "approval", nth=2, timeout_s=60)
    assert allowed["allow"] is True, allowed["reasons"]
    await roomy.execution(proposal["id"], "succeeded", timeout_s=60)
    entry = json.loads(await ledger_entry(roomy, proposal["id"]))
    assert [len(a["comment"]) for a in entry["approvals"]] == [1000, 1000]
    record = {"proposal_id": proposal["id"], "decision": "reject", "token": roomy.token("carol", proposal, "reject"),
              "source": "cli", "time": int(time.time() * 1000), "comment": ""}
    await roomy.big.send_and_wait(topic, sized(codec.encode, record, ("comment",), 2 * LIMIT), key=key)
    await roomy.dead_letter("aiops.approvals", lambda value, headers: headers.get("aiops.error.class")
                            == "RecordTooLarge" and headers.get("aiops.original.topic") == topic)
    # JSON approvals too: at the limit decoded, its comment cut.
    late = await roomy.propose("restart_deployment", params("restart_deployment"))
    await roomy.decision(late["id"], "proposal")
    body = {"proposal_id": late["id"], "decision": "approve", "token": roomy.token("alice", late), "source": "chat",
            "time": int(time.time() * 1000), "comment": ""}
    await roomy.big.send_and_wait(topic, sized(lambda r: json.dumps(r).encode(), body, ("comment",),
                                               LIMIT - len(late["id"])), key=late["id"].encode())
    assert (await roomy.decision(late["id"], "approval", timeout_s=60))["allow"] is True
    await still_decides(roomy)


async def test_execution_records_at_and_above_the_limit(roomy):
    # The gatekeeper follows aiops.executions (all partitions) for its rate limit; other tools write there too.
    codec = roomy.codec("Execution", "aiops.executions")
    topic = roomy.settings.topic("aiops.executions")
    now = int(time.time() * 1000)
    record = {"id": "e1", "proposal_id": unique("ext"), "decision_id": "d", "idempotency_key": "k",
              "executor": "webhook", "action": "restart_deployment", "request": "", "response": None,
              "status": "started", "error": None, "attempt": 1, "started_at": now, "finished_at": None,
              "duration_ms": None}
    await roomy.big.send_and_wait(topic, sized(codec.encode, record, ("request",), LIMIT - 16), key=b"ext-1")
    await roomy.big.send_and_wait(topic, sized(codec.encode, record, ("request",), 2 * LIMIT), key=b"ext-2")
    await still_decides(roomy)


async def test_records_above_the_topic_limit_never_reach_the_gatekeeper(roomy):
    # Past the topic's own max.message.bytes the broker refuses the record: the producer gets the error.
    from aiokafka.errors import MessageSizeTooLargeError

    with pytest.raises(MessageSizeTooLargeError):
        await roomy.big.send_and_wait(roomy.settings.topic("aiops.approvals"), b"{" + b"x" * (TOPIC_MAX + 10),
                                      key=b"k")
    await still_decides(roomy)
