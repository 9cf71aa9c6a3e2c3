"""triage_incidents: incident snapshots (aiops.incidents) → proposals (aiops.proposals); resolved incidents
are written back to institutional memory with the actions taken and their outcomes.

An incident is triaged when its likely root cause is first named and again when it changes; proposal ids are
deterministic, so a replayed snapshot proposes nothing new. record_outcomes keeps each proposal's last
execution status in a global table, so the write-back can say how the actions ended."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import faust

from aiops.core import metrics
from aiops.core.catalog import ActionCatalog, InvalidAction, RiskClass
from aiops.core.errors import AiopsError, SerializationError
from aiops.core.settings import Settings
from aiops.memory.client import OnDemandMemoryClient
from aiops.memory.documents import load_handbook
from aiops.memory.enrich import asimilar_for_incident
from aiops.memory.writeback import awrite_back
from aiops.triage.context import RetrievedDocument, TriageContext
from aiops.triage.llm_reasoner import LlmReasoner
from aiops.triage.proposals import to_proposal
from aiops.triage.runbook_reasoner import NAME as RUNBOOK_NAME
from aiops.triage.runbook_reasoner import VERSION as RUNBOOK_VERSION
from aiops.triage.runbook_reasoner import RunbookReasoner
from streams.app import StreamContext
from streams.correlation.incident import SEVERITY_RANK
from streams.records import Severity

log = logging.getLogger(__name__)


def llm_reasoner(settings: Settings, catalog: ActionCatalog) -> LlmReasoner | None:
    if not settings.llm_base_url:
        return None
    import openai

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
    client = openai.OpenAI(base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_s,
                           max_retries=0)
    return LlmReasoner(catalog, client, settings.llm_model, settings.llm_token_budget, settings.llm_max_attempts)


def register(app: faust.App, ctx: StreamContext) -> None:
    settings = ctx.settings
    incidents_topic = app.topic(ctx.topic("aiops.incidents"), key_serializer="raw", value_serializer="raw")
    proposals_topic = app.topic(ctx.topic("aiops.proposals"), key_serializer="raw", value_serializer="raw")
    executions_topic = app.topic(ctx.topic("aiops.executions"), key_serializer="raw", value_serializer="raw")
    incident_codec = ctx.codec("Incident", "aiops.incidents")
    proposal_codec = ctx.codec("Proposal", "aiops.proposals")
    execution_codec = ctx.codec("Execution", "aiops.executions")
    catalog = ActionCatalog.for_settings(settings)
    handbook = {doc.id: doc for doc in load_handbook(settings.handbook_dir)}
    runbook_reasoner = RunbookReasoner(catalog)
    llm = llm_reasoner(settings, catalog)
    incident_to_triage = app.Table("incident_to_triage")
    proposal_to_outcome = app.GlobalTable("proposal_to_outcome")
    memory_client = OnDemandMemoryClient(settings)

    async def retrieve(incident: dict) -> list[RetrievedDocument]:
        try:
            similar = await asimilar_for_incident(incident, memory_client(), top_k=settings.triage_top_k)
        except AiopsError as exc:  # memory is best effort: triage goes on without it
            log.warning("memory unavailable for %s: %s", incident["id"], exc)
            similar = incident.get("similar_incidents") or []
        documents = []
        for hit in similar:
            doc = handbook.get(hit["doc_id"])
            documents.append(RetrievedDocument(
                doc_id=hit["doc_id"], kind=hit["kind"], title=hit["title"], score=float(hit["score"]),
                services=list(doc.services) if doc else [],
                actions=[a.model_dump() for a in doc.actions] if doc else []))
        return documents

    async def propose(incident: dict) -> list[dict]:
        triage_ctx = TriageContext(incident, await retrieve(incident), environment=settings.triage_environment,
                                   namespace=settings.triage_namespace)
        if llm is not None:
            outcome = await asyncio.to_thread(llm.propose, triage_ctx)
            drafts, proposer = outcome.drafts, outcome.proposer
            if outcome.tokens:
                metrics.LLM_TOKENS.labels(settings.llm_model).inc(outcome.tokens)
            if outcome.fallback_reason:
                metrics.LLM_FALLBACKS.labels(outcome.fallback_reason.split(":")[0][:40]).inc()
        else:
            drafts = runbook_reasoner.propose(triage_ctx)
            proposer = {"kind": "reasoner", "name": RUNBOOK_NAME, "version": RUNBOOK_VERSION,
                        "note": "no LLM configured"}
        if SEVERITY_RANK[Severity(incident["severity"])] < SEVERITY_RANK[Severity(
                settings.triage_remediation_min_severity)]:
            # A warning-level incident gets diagnosis, not remediation: nobody should be paged to approve it.
            drafts = [d for d in drafts if catalog.actions[d.action].risk_class == RiskClass.read_only]
        now = datetime.now(UTC)
        records = []
        for draft in drafts:
            try:
                records.append(to_proposal(draft, incident["id"], catalog, proposer, now,
                                           timedelta(seconds=settings.proposal_ttl_s)))
            except InvalidAction as exc:  # reasoners validate already; this is the last line of defence
                log.warning("dropping an invalid proposal for %s: %s", incident["id"], exc)
        return records

    @app.agent(incidents_topic, name="triage_incidents")
    async def triage_incidents(stream):
        async for event in stream.events():
            if event.value is None:
                continue  # a merged incident's tombstone
            try:
                incident = incident_codec.decode(event.value)
            except SerializationError as exc:
                log.warning("skipping an undecodable incident snapshot: %s", exc)
                continue
            state = incident_to_triage.get(incident["id"]) or {"root": None, "proposals": [], "written_back": False}
            root = incident["root_cause"]["service"]
            if incident["status"] == "resolved":
                if not state["written_back"]:
                    actions = [{**p, "status": proposal_to_outcome.get(p["id"], "proposed")}
                               for p in state["proposals"]]
                    try:
                        await awrite_back(incident, actions, memory_client())
                        state = {**state, "written_back": True}
                    except AiopsError as exc:
                        log.warning("write-back of %s failed: %s", incident["id"], exc)
                incident_to_triage[incident["id"]] = state
                continue
            if root is None or root == state["root"]:
                continue
            proposals = await propose(incident)
            for proposal in proposals:
                await proposals_topic.send(key=proposal["id"].encode(), value=proposal_codec.encode(proposal))
                metrics.PROPOSALS.labels(proposal["action"], proposal["proposer"]["kind"]).inc()
            known = {p["id"] for p in state["proposals"]}
            state = {**state, "root": root, "proposals": state["proposals"] + [
                {"id": p["id"], "action": p["action"], "parameters": p["parameters"]}
                for p in proposals if p["id"] not in known]}
            incident_to_triage[incident["id"]] = state

    @app.agent(executions_topic, name="record_outcomes")
    async def record_outcomes(stream):
        async for event in stream.events():
            try:
                execution = execution_codec.decode(event.value)
            except SerializationError:
                continue
            proposal_to_outcome[execution["proposal_id"]] = execution["status"]
