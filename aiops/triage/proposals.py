"""Turning validated drafts into Proposal records (schemas/proposal.avsc)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core.catalog import ActionCatalog
from aiops.triage.context import ProposalDraft
from streams.output_records import Proposal, Proposer, Target


def proposal_id(incident_id: str, action: str, parameters: dict[str, Any]) -> str:
    """Deterministic, so that a replayed incident proposes the same proposal id (the gatekeeper dedups)."""
    canonical = json.dumps({"incident": incident_id, "action": action, "parameters": parameters}, sort_keys=True,
                           separators=(",", ":"))
    return f"prop-{hashlib.sha256(canonical.encode()).hexdigest()[:20]}"


def to_proposal(draft: ProposalDraft, incident_id: str, catalog: ActionCatalog, proposer: Proposer,
                now: datetime, ttl: timedelta) -> Proposal:
    """Validate against the catalog (raises InvalidAction) and build the Proposal record."""
    validated = catalog.validate(draft.action, draft.parameters)
    pid = proposal_id(incident_id, validated.action, validated.parameters)
    # The contract keeps milliseconds: the record made here is the one a reader of the topic gets back.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return Proposal(
        id=pid,
        incident_id=incident_id,
        action=validated.action,
        parameters=validated.parameters,
        target=Target(**validated.target.as_dict()),
        risk_class=validated.risk_class,
        blast_radius=validated.blast_radius,
        rationale=draft.rationale[:4000],
        evidence=list(draft.evidence),
        confidence=max(0.0, min(1.0, float(draft.confidence))),
        proposer=proposer,
        requested_by=None,
        created_at=now.astimezone(UTC),
        expires_at=(now + ttl).astimezone(UTC),
        idempotency_key=f"{incident_id}:{pid}",
    )
