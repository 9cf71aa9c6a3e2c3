"""Triage of one incident without a broker: the runbook reasoner's proposals from the incident's own similar
documents when memory is unavailable, diagnosis only below the remediation severity, deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime

from aiops.core.settings import Settings
from aiops.memory.client import OnDemandMemoryClient
from aiops.triage.triager import Triager
from streams.output_records import Incident, SimilarDocument
from streams.records import Severity
from tests.aiops.triage.test_reasoners import cascade_incident
from tests.processes import free_port

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SIMILAR = [{"doc_id": "rb-orders-db-connection-exhaustion", "kind": "runbook", "title": "", "score": 3.0},
           {"doc_id": "pm-2025-09-orders-db-migration-lock-connection-exhaustion", "kind": "postmortem",
            "title": "", "score": 2.5}]


def unreachable_memory() -> tuple[Settings, OnDemandMemoryClient]:
    settings = Settings(memory_service_url=f"http://127.0.0.1:{free_port()}", memory_timeout_s=1)
    return settings, OnDemandMemoryClient(settings)


def enriched_cascade(severity: str | None = None) -> Incident:
    incident = cascade_incident().model_copy(update={"similar_incidents": [SimilarDocument(**s) for s in SIMILAR]})
    return incident.model_copy(update={"severity": Severity(severity)}) if severity else incident


async def test_without_memory_the_incidents_own_similar_documents_lead_to_the_runbook():
    settings, memory = unreachable_memory()
    triager = Triager(settings, memory)
    proposals = await triager.propose(enriched_cascade(), NOW)
    assert [(p.action, p.target.service) for p in proposals] == [
        ("collect_diagnostics", "orders-db"), ("restart_deployment", "orders-api")]
    assert all(p.proposer.name == "runbook-reasoner" for p in proposals)
    assert {p.id for p in proposals} == {p.id for p in await triager.propose(enriched_cascade(), NOW)}


async def test_a_warning_incident_gets_diagnosis_only():
    settings, memory = unreachable_memory()
    proposals = await Triager(settings, memory).propose(enriched_cascade("warning"), NOW)
    assert [p.risk_class for p in proposals] == ["read_only"]


async def test_write_back_says_when_memory_is_unavailable():
    settings, memory = unreachable_memory()
    assert await Triager(settings, memory).write_back(enriched_cascade(), []) is False
    assert await Triager(settings).write_back(enriched_cascade(), []) is False
