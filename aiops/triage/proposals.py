"""Turning validated drafts into Proposal records (schemas/proposal.avsc)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core.catalog import ActionCatalog
from aiops.triage.context import ProposalDraft


def proposal_id(incident_id: str, action: str, parameters: dict[str, Any]) -> str:
    """Deterministic, so that a replayed incident proposes the same proposal id (the gatekeeper dedups)."""
    canonical = json.dumps({"incident": incident_id, "action": action, "parameters": parameters}, sort_keys=True,
                           separators=(",", ":"))
    return f"prop-{hashlib.sha256(canonical.encode()).hexdigest()[:20]}"


def to_proposal(draft: ProposalDraft, incident_id: str, catalog: ActionCatalog, proposer: dict[str, Any],
                now: datetime, ttl: timedelta) -> dict[str, Any]:
    """Validate against the catalog (raises InvalidAction) and build the Avro Proposal record."""
    validated = catalog.validate(draft.action, draft.parameters)
    pid = proposal_id(incident_id, validated.action, validated.parameters)
    return {
        "id": pid,
        "incident_id": incident_id,
        "action": validated.action,
        "parameters": validated.parameters,
        "target": validated.target.as_dict(),
        "risk_class": validated.risk_class.value,
        "blast_radius": validated.blast_radius,
        "rationale": draft.rationale[:4000],
        "evidence": [{"kind": e["kind"], "ref": str(e["ref"]), "summary": e.get("summary")} for e in draft.evidence],
        "confidence": max(0.0, min(1.0, float(draft.confidence))),
        "proposer": proposer,
        "requested_by": None,
        "created_at": now.astimezone(UTC),
        "expires_at": (now + ttl).astimezone(UTC),
        "idempotency_key": f"{incident_id}:{pid}",
    }
