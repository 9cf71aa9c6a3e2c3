"""Properties of the bounds: whatever valid-shaped proposal and approvals arrive (huge fields included), what the
gatekeeper keeps and writes stays under the record limit; and against the real gatekeeper, records of any size
around the limit on any topic it consumes leave it deciding a control proposal."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.errors import SerializationError
from aiops.core.paths import PROJECT_ROOT
from aiops.gatekeeper.bounds import decode_bounded_approval, decode_proposal
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.records import approvals_considered
from tests.aiops.gatekeeper.test_oversized_records import LIMIT, proposal_record, roomy, sized, still_decides  # noqa: F401

SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")
PROPOSAL = SingleObjectCodec(SCHEMAS["Proposal"])
APPROVAL = SingleObjectCodec(SCHEMAS["Approval"])
DECISION = SingleObjectCodec(SCHEMAS["Decision"])

text = st.one_of(st.text(max_size=50), st.integers(0, 400_000).map(lambda n: "é" * n))
values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), text)


@st.composite
def proposals(draw) -> dict:
    now = datetime.now(UTC)
    return {
        "id": draw(text), "incident_id": draw(text), "action": draw(text),
        "parameters": draw(st.dictionaries(text, values, max_size=40)),
        "target": {"environment": draw(text), "namespace": draw(text), "service": draw(text)},
        "risk_class": "read_only", "blast_radius": 1, "rationale": draw(text),
        "evidence": draw(st.lists(st.fixed_dictionaries({"kind": st.just("alert"), "ref": text,
                                                         "summary": st.one_of(st.none(), text)}), max_size=80)),
        "confidence": 0.5,
        "proposer": {"kind": "llm", "name": draw(text), "version": draw(text),
                     "note": draw(st.one_of(st.none(), text))},
        "requested_by": draw(st.one_of(st.none(), text)), "created_at": now, "expires_at": now + timedelta(hours=1),
        "idempotency_key": draw(text)}


@st.composite
def approvals(draw) -> dict:
    return {"proposal_id": draw(text), "decision": draw(st.sampled_from(["approve", "reject"])),
            "token": draw(text), "source": draw(text), "time": int(time.time() * 1000),
            "comment": draw(st.one_of(st.none(), text))}


def decoded_or_none(decode, value: bytes):
    if len(value) > LIMIT:
        return None  # refused before decoding (test_oversized_records.py)
    try:
        return decode(value)
    except SerializationError:
        return None  # dead-lettered with the reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(proposal=proposals(), events=st.lists(approvals(), min_size=1, max_size=8))
def test_whatever_arrives_the_ledger_entry_and_the_decision_stay_under_the_limit(proposal, events):
    wire = decoded_or_none(lambda v: decode_proposal(v, PROPOSAL), PROPOSAL.encode(proposal))
    state = ProposalState("P", 0, proposal=wire)
    for event in events:
        approval = decoded_or_none(lambda v: decode_bounded_approval(v, APPROVAL), APPROVAL.encode(event))
        if approval is not None:
            state.approvals.append(ApprovalEntry(proposal_id=approval["proposal_id"], decision=approval["decision"],
                                                 token=approval["token"], source=approval["source"],
                                                 time_ms=approval["time"], comment=approval["comment"]))
    assert len(state.to_json()) < LIMIT // 2
    considered = approvals_considered(state, None, [])
    decision = {"id": "d", "proposal_id": "P" * 256, "opa_decision_id": None, "allow": False,
                "reasons": ["x" * 2000] * 20, "approvals_considered": [c.model_dump() for c in considered],
                "policy_revision": None,
                "trigger": "approval", "evaluated_at": 0, "latency_ms": 0.0}
    assert len(DECISION.encode(decision)) < LIMIT // 2


TOPICS = {"aiops.proposals": ("Proposal", ("rationale",)), "aiops.approvals": ("Approval", ("comment",)),
          "aiops.executions": ("Execution", ("request",))}


@pytest.mark.integration
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(topic=st.sampled_from(sorted(TOPICS)),
       size=st.one_of(st.integers(LIMIT - 2000, LIMIT - 300), st.integers(LIMIT + 1, int(2.5 * LIMIT))))
async def test_any_record_around_the_limit_leaves_the_gatekeeper_deciding(roomy, topic, size):  # noqa: F811
    record_name, field = TOPICS[topic]
    codec = roomy.codec(record_name, topic)
    key = f"prop-{size}".encode()
    base = {"aiops.proposals": lambda: proposal_record(key.decode()),
            "aiops.approvals": lambda: {"proposal_id": key.decode(), "decision": "approve", "token": "a.b.c",
                                        "source": "x", "time": 0, "comment": ""},
            "aiops.executions": lambda: {"id": "e", "proposal_id": key.decode(), "decision_id": "d",
                                         "idempotency_key": "k", "executor": "webhook", "action": "a", "request": "",
                                         "response": None, "status": "started", "error": None, "attempt": 1,
                                         "started_at": 0, "finished_at": None, "duration_ms": None}}[topic]()
    value = sized(codec.encode, base, field, size - len(key))
    await roomy.big.send_and_wait(roomy.settings.topic(topic), value, key=key)
    await still_decides(roomy)
