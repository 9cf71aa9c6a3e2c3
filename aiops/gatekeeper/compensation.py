"""The compensating proposal for an action vetoed after it ran, where the catalog names one.

A veto can only block what has not started. When a valid rejection arrives for a proposal that is executing
or executed, the gatekeeper records it, and, when the catalog gives the action a `compensation` (turning a
feature flag back, for instance), proposes that compensating action as a new proposal: it goes through the
gate like any other (policy, approvals), requested by the person who vetoed, so someone else approves it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiops.core.catalog import ActionCatalog
from aiops.gatekeeper.times import from_ms
from streams.output_records import Proposal, Proposer, Target

PROPOSER: dict[str, Any] = {"kind": "reasoner", "name": "gatekeeper-compensation", "version": "1"}


def compensation_id(proposal_id: str) -> str:
    """Deterministic, so that a replayed veto proposes the same proposal (which the gate then ignores)."""
    return f"comp-{hashlib.sha256(proposal_id.encode()).hexdigest()[:20]}"


def compensating_proposal(original: Proposal, catalog: ActionCatalog, vetoed_by: str, now_ms: int,
                          ttl_ms: int) -> Proposal | None:
    """The Proposal undoing `original`, or None when its action has no compensation.

    Raises InvalidAction when the catalog's compensation does not fit the original's parameters.
    """
    spec = catalog.actions.get(original.action)
    if spec is None or spec.compensation is None:
        return None
    rule = spec.compensation
    source = dict(original.parameters)
    parameters = {name: value for name, value in source.items()
                  if name in catalog.actions[rule.action].parameters and value is not None}
    parameters.update({name: value.apply(source) for name, value in rule.parameters.items()})
    validated = catalog.validate(rule.action, parameters)
    return Proposal(
        id=compensation_id(original.id), incident_id=original.incident_id, action=validated.action,
        parameters=validated.parameters, target=Target(**validated.target.as_dict()),
        risk_class=validated.risk_class, blast_radius=validated.blast_radius,
        rationale=(f"Undoes proposal {original.id} ({original.action}), which {vetoed_by} rejected after it had "
                   "been executed."),
        evidence=list(original.evidence), confidence=1.0,
        proposer=Proposer(**PROPOSER, note=f"compensates {original.id}"),
        requested_by=vetoed_by, created_at=from_ms(now_ms), expires_at=from_ms(now_ms + ttl_ms),
        idempotency_key=f"{original.idempotency_key}:compensation"[:256])
