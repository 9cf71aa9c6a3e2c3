"""Records the gatekeeper reads and writes: Approval in (Avro or JSON), the OPA input, Decision and Execution out."""

from __future__ import annotations

import json
from typing import Any

from aiops.core.avro import AvroCodec
from aiops.core.errors import SerializationError
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.policy import PolicyAnswer
from aiops.gatekeeper.times import from_ms, parse_time, rfc3339, to_ms
from streams.output_records import ApprovalConsidered, Execution, Proposal

APPROVAL_FIELDS = {"proposal_id", "decision", "token", "source", "time", "comment"}


def decode_approval(value: bytes | None, codec: AvroCodec) -> dict[str, Any]:
    """An Approval from Avro (either framing) or from JSON against the same schema; SerializationError if neither."""
    if value is None:
        raise SerializationError("approval record has no value")
    if value[:1] != b"{":
        record = codec.decode(value)
        record["time"] = to_ms(record["time"])
        return record
    try:
        raw = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SerializationError(f"approval is neither Avro nor valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SerializationError("JSON approval must be an object")
    unknown = set(raw) - APPROVAL_FIELDS
    missing = {"proposal_id", "decision", "token", "source", "time"} - set(raw)
    if unknown or missing:
        raise SerializationError(f"JSON approval does not match the Approval schema: missing {sorted(missing)}, "
                                 f"unknown {sorted(unknown)}")
    for name in ("proposal_id", "token", "source"):
        if not isinstance(raw[name], str) or not raw[name]:
            raise SerializationError(f"JSON approval field {name!r} must be a non-empty string")
    if raw["decision"] not in ("approve", "reject"):
        raise SerializationError("JSON approval field 'decision' must be 'approve' or 'reject'")
    if raw.get("comment") is not None and not isinstance(raw["comment"], str):
        raise SerializationError("JSON approval field 'comment' must be a string or null")
    try:
        raw["time"] = parse_time(raw["time"])
    except ValueError as exc:
        raise SerializationError(f"JSON approval field 'time': {exc}") from None
    raw.setdefault("comment", None)
    return raw


def policy_input(proposal: Proposal, *, action_hash: str, target: dict[str, str], blast_radius: int,
                 approvals: list[ApprovalEntry], now_ns: int, recent_executions: int,
                 blast_radius_basis: str | None = None) -> dict[str, Any]:
    """The input document policy/README.md specifies, built by code from the proposal and the approvals."""
    proposer = proposal.proposer
    return {
        "now_ns": now_ns,
        "proposal": {
            "id": proposal.id,
            "incident_id": proposal.incident_id,
            "action": proposal.action,
            "parameters": dict(proposal.parameters),
            "action_hash": action_hash,
            "risk_class": proposal.risk_class.value,
            "blast_radius": blast_radius,
            "blast_radius_basis": blast_radius_basis,
            "target": target,
            "proposer": {"kind": proposer.kind, "name": proposer.name, "version": proposer.version},
            "requested_by": proposal.requested_by,
            "created_at": rfc3339(to_ms(proposal.created_at)),
            "expires_at": rfc3339(to_ms(proposal.expires_at)),
        },
        "approvals": [
            {"proposal_id": a.proposal_id, "decision": a.decision, "token": a.token, "source": a.source,
             "time": rfc3339(a.time_ms)}
            for a in approvals
        ],
        "context": {"recent_executions_for_target": recent_executions},
    }


def approvals_considered(state: ProposalState, answer: PolicyAnswer | None, sent: list[ApprovalEntry],
                         dropped: tuple[ApprovalEntry, str] | None = None) -> list[ApprovalConsidered]:
    """Each approval of the proposal with whether it counted and why not, as OPA explained it (by index into
    `sent`, the approvals it was given); for the Decision's `approvals_considered`. `dropped` is an approval
    the gatekeeper did not keep, with its reason (listed last, never counted)."""
    why: dict[int, list[str]] = {}
    if answer is not None:
        for item in answer.result.get("rejected_approvals", []):
            if isinstance(item, dict) and isinstance(item.get("index"), int):
                why.setdefault(item["index"], []).append(str(item.get("reason")))
    index = {id(a): i for i, a in enumerate(sent)}
    considered = []
    for approval in [*state.approvals, *([dropped[0]] if dropped else [])]:
        counted, reason = False, approval.excluded
        if dropped is not None and approval is dropped[0]:
            explained = why.get(index[id(approval)], []) if id(approval) in index else []
            reason = "; ".join([f"not kept: {dropped[1]}", *explained])
        elif reason is None and answer is None:
            reason = "not evaluated: no policy decision"
        elif reason is None:
            problems = why.get(index[id(approval)])
            if problems:
                reason = "; ".join(problems)
            elif approval.decision == "reject":
                counted, reason = True, "valid rejection (veto)"
            else:
                counted = True
        if reason and approval.token_problem and not counted:
            reason = f"{reason} (token: {approval.token_problem})"
        considered.append(ApprovalConsidered(decision=approval.decision, source=approval.source,
                                             approver=approval.kid, counted=counted, reason=reason))
    return considered


def execution_record(state: ProposalState) -> Execution:
    """The Execution record of the proposal's current execution attempt."""
    entry = state.execution
    assert entry is not None and state.proposal is not None
    finished = entry.finished_at_ms
    return Execution(
        id=entry.id, proposal_id=state.proposal_id, decision_id=entry.decision_id,
        idempotency_key=entry.idempotency_key, executor=entry.executor, action=state.proposal.action,
        request=entry.request, response=entry.response, status=entry.status, error=entry.error,
        attempt=entry.attempt, started_at=from_ms(entry.started_at_ms),
        finished_at=from_ms(finished) if finished is not None else None,
        duration_ms=float(finished - entry.started_at_ms) if finished is not None else None,
    )
