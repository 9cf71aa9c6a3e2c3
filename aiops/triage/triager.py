"""Triage of one incident: retrieve what memory knows about it, let a reasoner propose, make Proposal records.

The LLM reasoner answers when an endpoint is configured, the deterministic runbook reasoner otherwise (and
whenever the LLM fails). A warning-level incident gets diagnosis, not remediation. Memory is best effort:
without it, the incident's own `similar_incidents` are used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core import metrics
from aiops.core.catalog import ActionCatalog, RiskClass
from aiops.core.errors import AiopsError, InvalidAction
from aiops.core.settings import Settings
from aiops.memory.client import AsyncMemoryClient
from aiops.memory.documents import HandbookDocument, load_handbook
from aiops.memory.enrich import SNAPSHOT_TOP_K, asimilar_for_incident
from aiops.memory.writeback import awrite_back
from aiops.triage.context import ProposalDraft, RetrievedDocument, TriageContext
from aiops.triage.llm_reasoner import LlmReasoner
from aiops.triage.proposals import to_proposal
from aiops.triage.runbook_reasoner import NAME as RUNBOOK_NAME
from aiops.triage.runbook_reasoner import VERSION as RUNBOOK_VERSION
from aiops.triage.runbook_reasoner import RunbookReasoner
from aiops.triage.telemetry_prompt import TelemetryCaps
from streams.correlation.incident import SEVERITY_RANK
from streams.output_records import Incident, Proposal, Proposer, SimilarDocument
from streams.records import Severity

log = logging.getLogger(__name__)


def llm_reasoner(settings: Settings, catalog: ActionCatalog) -> LlmReasoner | None:
    """The LLM reasoner on the configured OpenAI-compatible endpoint, or None when none is configured."""
    if not settings.llm_base_url:
        return None
    import openai

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
    client = openai.OpenAI(base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_s,
                           max_retries=0)
    caps = TelemetryCaps(field_chars=settings.llm_telemetry_field_chars, total_chars=settings.llm_telemetry_max_chars)
    return LlmReasoner(catalog, client, settings.llm_model, settings.llm_token_budget, settings.llm_max_attempts,
                       caps=caps)


class Triager:
    """Proposals for an incident, and its write-back once resolved.

    `memory` gives the memory client when asked (an OnDemandMemoryClient, so that the client is made in the
    event loop that uses it); without one, triage works from the incident alone.
    """

    def __init__(self, settings: Settings, memory: Callable[[], AsyncMemoryClient] | None = None, *,
                 catalog: ActionCatalog | None = None, handbook: Sequence[HandbookDocument] | None = None,
                 llm: LlmReasoner | None = None):
        self.settings = settings
        self.memory = memory
        self.catalog = catalog or ActionCatalog.for_settings(settings)
        documents = load_handbook(settings.handbook_dir) if handbook is None else handbook
        self.handbook = {doc.id: doc for doc in documents}
        self.runbook_reasoner = RunbookReasoner(self.catalog)
        self.llm = llm if llm is not None else llm_reasoner(settings, self.catalog)

    async def retrieve(self, incident: Incident) -> list[RetrievedDocument]:
        """The handbook documents and past incidents like this one, with the actions each names."""
        similar = incident.similar_incidents
        # The correlator searched for this very snapshot (same query, SNAPSHOT_TOP_K): asking memory again would
        # only add a round trip to the alert-to-proposal path. Search when it found nothing or we want more.
        if not similar or self.settings.triage_top_k != SNAPSHOT_TOP_K:
            try:
                if self.memory is None:
                    raise AiopsError("no memory client")
                hits = await asimilar_for_incident(incident.to_avro(), self.memory(),
                                                   top_k=self.settings.triage_top_k)
                similar = [SimilarDocument.model_validate(hit) for hit in hits]
            except AiopsError as exc:  # memory is best effort: triage goes on without it
                log.warning("memory unavailable for %s: %s", incident.id, exc)
        documents = []
        for hit in similar:
            doc = self.handbook.get(hit.doc_id)
            documents.append(RetrievedDocument(
                doc_id=hit.doc_id, kind=hit.kind, title=hit.title, score=hit.score,
                services=list(doc.services) if doc else [],
                actions=[a.model_dump() for a in doc.actions] if doc else []))
        return documents

    async def _drafts(self, triage_ctx: TriageContext) -> tuple[list[ProposalDraft], Proposer]:
        if self.llm is None:
            return self.runbook_reasoner.propose(triage_ctx), Proposer(
                kind="reasoner", name=RUNBOOK_NAME, version=RUNBOOK_VERSION, note="no LLM configured")
        outcome = await asyncio.to_thread(self.llm.propose, triage_ctx)
        if outcome.tokens:
            metrics.LLM_TOKENS.labels(self.settings.llm_model).inc(outcome.tokens)
        if outcome.fallback_reason:
            metrics.LLM_FALLBACKS.labels(outcome.fallback_reason.split(":")[0][:40]).inc()
        return outcome.drafts, outcome.proposer

    def _remediation_allowed(self, incident: Incident) -> bool:
        threshold = Severity(self.settings.triage_remediation_min_severity)
        return SEVERITY_RANK[incident.severity] >= SEVERITY_RANK[threshold]

    async def propose(self, incident: Incident, now: datetime | None = None) -> list[Proposal]:
        """The Proposal records for this incident (validated against the catalog; invalid drafts are dropped)."""
        triage_ctx = TriageContext(incident, await self.retrieve(incident),
                                   environment=self.settings.triage_environment,
                                   namespace=self.settings.triage_namespace)
        drafts, proposer = await self._drafts(triage_ctx)
        if not self._remediation_allowed(incident):
            # A warning-level incident gets diagnosis, not remediation: nobody should be paged to approve it.
            drafts = [d for d in drafts if self.catalog.actions[d.action].risk_class == RiskClass.read_only]
        now = now or datetime.now(UTC)
        records = []
        for draft in drafts:
            try:
                records.append(to_proposal(draft, incident.id, self.catalog, proposer, now,
                                           timedelta(seconds=self.settings.proposal_ttl_s)))
            except InvalidAction as exc:  # reasoners validate already; this is the last line of defence
                log.warning("dropping an invalid proposal for %s: %s", incident.id, exc)
        return records

    async def write_back(self, incident: Incident, actions: Sequence[Mapping[str, Any]]) -> bool:
        """Write a resolved incident and the actions taken into memory; False when memory is unavailable."""
        try:
            if self.memory is None:
                raise AiopsError("no memory client")
            await awrite_back(incident.to_avro(), actions, self.memory())
            return True
        except AiopsError as exc:
            log.warning("write-back of %s failed: %s", incident.id, exc)
            return False
