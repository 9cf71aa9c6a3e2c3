"""The bounds the gatekeeper applies as it decodes a proposal or an approval, so that nothing it keeps or writes
can grow past the record limit.

Identifiers (ids, action, parameter names and values, target, idempotency key, token) that exceed their cap make
the record invalid: shortening them would change what is approved or executed. Free text a person reads
(rationale, evidence summaries, proposer note, approval comment and source) is cut to its cap at decode time,
with a visible marker. With at most MAX_APPROVALS approvals kept per proposal, a ledger entry stays far below
the record limit whatever the inputs were (tests/gatekeeper/test_bounds.py checks that as a property).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from aiops.core.avro import AvroCodec
from aiops.core.errors import SerializationError
from aiops.core.limits import cap_text
from aiops.gatekeeper.records import decode_approval
from streams.output_records import Proposal

ID_CHARS = 256  # proposal and incident ids, idempotency keys, requested_by
NAME_CHARS = 128  # action and parameter names, proposer name and version, approval source
TARGET_CHARS = 253  # a DNS-1123 subdomain at most
PARAMETERS = 32
PARAMETER_VALUE_CHARS = 4096  # the longest text kind the catalog allows
RATIONALE_CHARS = 4000
EVIDENCE = 50
EVIDENCE_REF_CHARS = 256
SUMMARY_CHARS = 500
NOTE_CHARS = 500
COMMENT_CHARS = 1000
TOKEN_CHARS = 8192  # an ES256 approval token is about 500 characters


def _printable(value: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value)


def _identifier(value: Any, what: str, limit: int, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value or len(value) > limit or not _printable(value):
        shown = value[:80] if isinstance(value, str) else value
        raise SerializationError(f"{what} must be a printable string of 1 to {limit} characters, got {shown!r}"
                                 + (f" ({len(value)} characters)" if isinstance(value, str) else ""))


def bound_proposal(proposal: Proposal) -> Proposal:
    """A proposal within its caps: invalid identifiers raise SerializationError, free text is cut."""
    _identifier(proposal.id, "proposal id", ID_CHARS)
    _identifier(proposal.incident_id, "incident id", ID_CHARS)
    _identifier(proposal.action, "action", NAME_CHARS)
    _identifier(proposal.idempotency_key, "idempotency key", ID_CHARS)
    _identifier(proposal.requested_by, "requested_by", ID_CHARS, optional=True)
    for field, value in proposal.target.model_dump().items():
        _identifier(value, f"target.{field}", TARGET_CHARS)
    if len(proposal.parameters) > PARAMETERS:
        raise SerializationError(f"a proposal has at most {PARAMETERS} parameters, this one {len(proposal.parameters)}")
    for name, value in proposal.parameters.items():
        _identifier(name, "parameter name", NAME_CHARS)
        if isinstance(value, str) and len(value) > PARAMETER_VALUE_CHARS:
            raise SerializationError(f"parameter {name!r} is longer than {PARAMETER_VALUE_CHARS} characters")
    proposer = proposal.proposer
    return proposal.model_copy(update={
        "rationale": cap_text(proposal.rationale, RATIONALE_CHARS),
        "evidence": [ref.model_copy(update={
            "ref": cap_text(ref.ref, EVIDENCE_REF_CHARS),
            "summary": None if ref.summary is None else cap_text(ref.summary, SUMMARY_CHARS)})
            for ref in proposal.evidence[:EVIDENCE]],
        "proposer": proposer.model_copy(update={
            "name": cap_text(proposer.name, NAME_CHARS), "version": cap_text(proposer.version, NAME_CHARS),
            "note": None if proposer.note is None else cap_text(proposer.note, NOTE_CHARS)}),
    })


def decode_proposal(value: bytes | None, codec: AvroCodec) -> Proposal:
    """A Proposal record within its bounds (what the ledger keeps and `aiops approve` compares)."""
    if value is None:
        raise SerializationError("proposal record has no value")
    try:
        proposal = Proposal.from_avro(codec.decode(value))
    except ValueError as exc:  # pydantic's ValidationError: the Avro record does not make a Proposal
        raise SerializationError(f"not a valid proposal: {exc}") from None
    return bound_proposal(proposal)


def decode_bounded_approval(value: bytes | None, codec: AvroCodec) -> dict[str, Any]:
    """An Approval (Avro or JSON) within its caps: an oversized id or token is invalid, comment and source cut."""
    approval = decode_approval(value, codec)
    _identifier(approval.get("proposal_id"), "approval proposal_id", ID_CHARS)
    token = approval.get("token")
    if not isinstance(token, str) or len(token) > TOKEN_CHARS:
        raise SerializationError(f"approval token must be a string of at most {TOKEN_CHARS} characters")
    approval["source"] = cap_text(str(approval.get("source") or ""), NAME_CHARS)
    if approval.get("comment") is not None:
        approval["comment"] = cap_text(str(approval["comment"]), COMMENT_CHARS)
    return approval
