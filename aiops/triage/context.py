"""What a reasoner sees: the incident snapshot and the handbook documents retrieved for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.output_records import EvidenceRef, Incident


@dataclass(frozen=True)
class RetrievedDocument:
    """A runbook, postmortem or past incident retrieved for the incident, with the actions it prescribes
    (runbooks) or that were taken (postmortems, past incidents)."""

    doc_id: str
    kind: str
    title: str
    score: float
    services: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)  # [{action, parameters, when}]


@dataclass(frozen=True)
class TriageContext:
    incident: Incident
    documents: list[RetrievedDocument]
    environment: str = "prod"
    namespace: str = "shop"

    @property
    def root_service(self) -> str | None:
        return self.incident.root_cause.service

    @property
    def services(self) -> list[str]:
        return list(self.incident.services)


@dataclass(frozen=True)
class ProposalDraft:
    """A reasoner's proposal before code validates it against the catalog and makes it a Proposal."""

    action: str
    parameters: dict[str, Any]
    rationale: str
    confidence: float
    evidence: list[EvidenceRef]
