"""The gatekeeper's ledger: one compacted Kafka record per proposal holding everything needed after a crash.

The ledger is written, and acknowledged by the broker, at each step that matters:
after every evaluation (with the approvals it saw and the retry it owes), and around every execution:
`execution.status = "started"` with the idempotency key BEFORE the executor is called, then the result.
A restarted gatekeeper reads its partitions of the ledger back; a proposal whose ledger says "started"
without a result is reconciled by asking the executor for the operation by idempotency key, never by
calling it again blindly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aiops.gatekeeper.times import from_ms, to_ms
from streams.output_records import Proposal

Status = Literal["open", "expired", "executing", "done"]


@dataclass
class ApprovalEntry:
    """One approval event as received, with what the gatekeeper read from its token (unverified)."""

    proposal_id: str
    decision: str
    token: str
    source: str
    time_ms: int
    comment: str | None = None
    kid: str | None = None
    jti: str | None = None
    token_problem: str | None = None  # why the token is not well formed (OPA still gets to say no)
    excluded: str | None = None  # why it is not sent to OPA at all (ledgers written before intake.py)
    approver: str | None = None  # the name the bundle registers for kid (None: the keys could not be read)

    def same_event(self, other: ApprovalEntry) -> bool:
        return (self.token, self.decision, self.source, self.time_ms, self.proposal_id) == (
            other.token, other.decision, other.source, other.time_ms, other.proposal_id)


@dataclass
class ExecutionEntry:
    id: str
    decision_id: str
    idempotency_key: str
    executor: str
    attempt: int
    status: str  # started | succeeded | failed | skipped_duplicate | outcome_unknown
    started_at_ms: int
    request: str
    response: str | None = None
    error: str | None = None
    finished_at_ms: int | None = None
    unknown_since_ms: int | None = None  # the last call's outcome is unknown: reconcile before anything else
    reconcile_attempt: int = 0


@dataclass
class RetryEntry:
    attempt: int
    due_ms: int
    reason: str


@dataclass
class ProposalState:
    proposal_id: str
    partition: int
    proposal: Proposal | None = None
    approvals: list[ApprovalEntry] = field(default_factory=list)
    status: Status = "open"
    expiry_decided: bool = False
    retry: RetryEntry | None = None
    execution: ExecutionEntry | None = None
    decisions: int = 0
    last_decision_id: str | None = None
    orphan_since_ms: int | None = None  # approvals wait for a proposal that has not arrived since then
    dropped_approvals: int = 0  # approvals not kept, each explained in a Decision (the rest: dead letters)

    def to_json(self) -> bytes:
        shown = asdict(self)
        shown["proposal"] = proposal_to_json(self.proposal) if self.proposal is not None else None
        return json.dumps(shown, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ProposalState:
        raw = json.loads(data)
        raw["proposal"] = proposal_from_json(raw["proposal"]) if raw.get("proposal") else None
        raw["approvals"] = [ApprovalEntry(**a) for a in raw.get("approvals", [])]
        raw["retry"] = RetryEntry(**raw["retry"]) if raw.get("retry") else None
        raw["execution"] = ExecutionEntry(**raw["execution"]) if raw.get("execution") else None
        return cls(**raw)

    def seen_jtis(self) -> set[str]:
        return {a.jti for a in self.approvals if a.jti}

    @property
    def expires_at_ms(self) -> int:
        assert self.proposal is not None
        return to_ms(self.proposal.expires_at)


def proposal_to_json(proposal: Proposal) -> dict[str, Any]:
    """A Proposal as the ledger keeps it: JSON data, timestamps as epoch millis."""
    shown = proposal.model_dump(mode="json")
    shown["created_at"] = to_ms(proposal.created_at)
    shown["expires_at"] = to_ms(proposal.expires_at)
    return shown


def proposal_from_json(shown: dict[str, Any]) -> Proposal:
    return Proposal.model_validate({**shown, "created_at": from_ms(shown["created_at"]),
                                    "expires_at": from_ms(shown["expires_at"])})
