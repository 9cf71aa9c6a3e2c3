"""Records the gatekeeper reads and writes: Proposal and Approval in, the OPA input out, times in one format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiops.core.avro import AvroCodec
from aiops.core.errors import SerializationError
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.policy import PolicyAnswer


def to_ms(value: datetime | int | float) -> int:
    """Epoch milliseconds from an aware datetime (fastavro's timestamp-millis) or a number of ms."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(round(value.timestamp() * 1000))
    return int(value)


def rfc3339(ms: int) -> str:
    """RFC3339 in UTC with millisecond precision, as OPA's time.parse_rfc3339_ns reads it."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: Any) -> int:
    """Epoch millis from a number of ms or an RFC3339 string (JSON approvals may carry either)."""
    if isinstance(value, bool):
        raise ValueError("time must be epoch milliseconds or an RFC3339 string")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        return to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise ValueError("time must be epoch milliseconds or an RFC3339 string")


def proposal_wire(proposal: dict[str, Any]) -> dict[str, Any]:
    """A decoded Proposal as plain JSON data (timestamps as epoch millis), for the ledger and comparisons."""
    wire = dict(proposal)
    wire["created_at"] = to_ms(proposal["created_at"])
    wire["expires_at"] = to_ms(proposal["expires_at"])
    wire["parameters"] = dict(proposal["parameters"])
    return json.loads(json.dumps(wire, sort_keys=True, default=str))


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


def policy_input(proposal: dict[str, Any], *, action_hash: str, target: dict[str, str], blast_radius: int,
                 approvals: list[ApprovalEntry], now_ns: int, recent_executions: int) -> dict[str, Any]:
    """The input document policy/README.md specifies, built by code from the proposal and the approvals."""
    proposer = proposal.get("proposer") or {}
    return {
        "now_ns": now_ns,
        "proposal": {
            "id": proposal["id"],
            "incident_id": proposal.get("incident_id"),
            "action": proposal["action"],
            "parameters": proposal["parameters"],
            "action_hash": action_hash,
            "risk_class": proposal.get("risk_class"),
            "blast_radius": blast_radius,
            "target": target,
            "proposer": {"kind": proposer.get("kind"), "name": proposer.get("name"),
                         "version": proposer.get("version")},
            "requested_by": proposal.get("requested_by"),
            "created_at": rfc3339(proposal["created_at"]),
            "expires_at": rfc3339(proposal["expires_at"]),
        },
        "approvals": [
            {"proposal_id": a.proposal_id, "decision": a.decision, "token": a.token, "source": a.source,
             "time": rfc3339(a.time_ms)}
            for a in approvals
        ],
        "context": {"recent_executions_for_target": recent_executions},
    }


def approvals_considered(state: ProposalState, answer: PolicyAnswer | None,
                         sent: list[ApprovalEntry]) -> list[dict[str, Any]]:
    """Each approval of the proposal with whether it counted and why not, as OPA explained it (by index into
    `sent`, the approvals it was given); for the Decision's `approvals_considered`."""
    why: dict[int, list[str]] = {}
    if answer is not None:
        for item in answer.result.get("rejected_approvals", []):
            if isinstance(item, dict) and isinstance(item.get("index"), int):
                why.setdefault(item["index"], []).append(str(item.get("reason")))
    index = {id(a): i for i, a in enumerate(sent)}
    considered = []
    for approval in state.approvals:
        counted, reason = False, approval.excluded
        if reason is None and answer is None:
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
        considered.append({"decision": approval.decision, "source": approval.source,
                           "approver": approval.kid, "counted": counted, "reason": reason})
    return considered


def execution_record(state: ProposalState) -> dict[str, Any]:
    """The Execution record of the proposal's current execution attempt."""
    entry = state.execution
    assert entry is not None and state.proposal is not None
    finished = entry.finished_at_ms
    return {
        "id": entry.id, "proposal_id": state.proposal_id, "decision_id": entry.decision_id,
        "idempotency_key": entry.idempotency_key, "executor": entry.executor,
        "action": state.proposal["action"], "request": entry.request, "response": entry.response,
        "status": entry.status, "error": entry.error, "attempt": entry.attempt,
        "started_at": entry.started_at_ms, "finished_at": finished,
        "duration_ms": float(finished - entry.started_at_ms) if finished is not None else None,
    }
