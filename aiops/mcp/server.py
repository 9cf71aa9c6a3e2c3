"""The MCP server (official `mcp` SDK): tools over the handbook, incidents, proposals and decisions, one tool that
proposes, and the handbook's runbooks, postmortems and notes as resources.

What a tool can do is what its code does: `propose_action` produces a Proposal to aiops.proposals after the
action catalog validated it, the same path as any proposer; there is no tool that decides, approves or
executes, and text in a tool's arguments is data (it cannot become an approval: approvals are ES256 tokens
signed with an approver's key, which this process never holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources import FileResource

from aiops.core.avro import codec_for
from aiops.core.catalog import ActionCatalog
from aiops.core.errors import AiopsError
from aiops.core.settings import Settings
from aiops.core.topics import PROPOSALS
from aiops.mcp.proposing import Proposer
from aiops.mcp.records import FollowedRecords
from aiops.mcp.results import (
    DecisionResult,
    HandbookHit,
    HandbookSearchResult,
    IncidentListResult,
    IncidentResult,
    IncidentSummary,
    ProposalListResult,
    ProposeResult,
    jsonable,
)
from aiops.memory.client import OnDemandMemoryClient
from aiops.memory.documents import handbook_files, load_document
from connectors.kafka_producer import AckedProducer

log = logging.getLogger(__name__)

INSTRUCTIONS = """Operational memory and incident state of the AIOps pipeline. Search the ops handbook, read
incidents (evidence, ranked root-cause candidates, where the services ran, similar past incidents), proposals
and the gatekeeper's decisions. propose_action submits a catalog action for an incident to the gatekeeper: the
policy decides, state-changing actions wait for signed human approvals, and no tool here approves or executes."""
MAX_LIMIT = 200


def handbook_uri(kind: str, doc_id: str) -> str:
    return f"handbook://{kind}s/{doc_id}"


@dataclass
class Backend:
    """What the tools use, started and stopped with the server (its lifespan)."""

    settings: Settings
    records: FollowedRecords
    catalog: ActionCatalog
    memory: OnDemandMemoryClient
    handbook: dict[str, str] = field(default_factory=dict)  # doc id -> resource URI
    proposer: Proposer | None = None


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": name, "arguments": jsonable(arguments)}


def _summary(incident: dict[str, Any]) -> IncidentSummary:
    return IncidentSummary(id=incident["id"], version=incident["version"], status=incident["status"],
                           title=incident["title"], severity=incident["severity"], services=incident["services"],
                           root_cause=incident["root_cause"]["service"], updated_at=jsonable(incident["updated_at"]))


def _client_name(ctx: Context | None) -> str:
    try:
        return ctx.session.client_params.client_info.name or "client"  # type: ignore[union-attr]
    except AttributeError:
        return "client"


def build_server(settings: Settings) -> MCPServer:
    """The MCP server with its tools and resources; its lifespan follows the topics and opens the producer."""
    backend = Backend(settings, FollowedRecords(settings), ActionCatalog.for_settings(settings),
                      OnDemandMemoryClient(settings))

    @contextlib.asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[Backend]:
        follower = asyncio.create_task(backend.records.run())
        producer = AckedProducer(settings, client_id="aiops-mcp")
        codec = codec_for("Proposal", settings.topic(PROPOSALS), settings)
        backend.proposer = Proposer(settings, backend.catalog, codec, producer)
        try:
            yield backend
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            await asyncio.to_thread(producer.close)

    server = MCPServer("aiops", instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING")
    _add_handbook_resources(server, backend, settings.handbook_dir)

    @server.tool()
    async def search_handbook(query: str, top_k: int = 5, kind: str | None = None,
                              service: str | None = None) -> HandbookSearchResult:
        """Search the ops handbook (runbooks, postmortems, notes) and past incidents: hybrid retrieval (BM25, fused
        with dense vectors when an embedding model is configured), best first, each hit with its source."""
        invocation = _call("search_handbook", query=query, top_k=top_k, kind=kind, service=service)
        if not query.strip():
            return HandbookSearchResult(status="invalid", invocation=invocation, error="query is empty")
        try:
            hits = await backend.memory().search(query, top_k=max(1, min(top_k, 50)),
                                                 kinds=[kind] if kind else None,
                                                 services=[service] if service else None)
        except AiopsError as exc:
            return HandbookSearchResult(status="error", invocation=invocation, error=f"memory service: {exc}")
        return HandbookSearchResult(invocation=invocation, hits=[
            HandbookHit(doc_id=h.doc_id, kind=h.kind, title=h.title, score=h.score, services=h.services,
                        source=backend.handbook.get(h.doc_id, f"memory://{h.kind}/{h.doc_id}")) for h in hits])

    @server.tool()
    def get_incident(incident_id: str) -> IncidentResult:
        """One incident's latest snapshot: alerts, log and span evidence, the likely root cause with the ranked
        candidates, where the services ran (pod, node, namespace, environment, version), similar incidents."""
        invocation = _call("get_incident", incident_id=incident_id)
        found = next((i for i in backend.records.incidents() if i["id"] == incident_id), None)
        if found is None:
            return IncidentResult(status="not_found", invocation=invocation,
                                  error=f"no incident {incident_id!r} on aiops.incidents ({backend.records.reading()})")
        return IncidentResult(invocation=invocation, incident=jsonable(found))

    @server.tool()
    def list_incidents(status: str | None = None, service: str | None = None, limit: int = 20) -> IncidentListResult:
        """The latest incidents, newest first; filter by status (open, updated, resolved) or a service involved."""
        invocation = _call("list_incidents", status=status, service=service, limit=limit)
        incidents = [i for i in backend.records.incidents()
                     if (status is None or i["status"] == status) and (service is None or service in i["services"])]
        return IncidentListResult(invocation=invocation,
                                  incidents=[_summary(i) for i in incidents[:max(0, min(limit, MAX_LIMIT))]])

    @server.tool()
    def list_proposals(incident_id: str | None = None, limit: int = 20) -> ProposalListResult:
        """Proposed actions, newest first (optionally of one incident): action, parameters, target, risk class,
        rationale, evidence, proposer, expiry."""
        invocation = _call("list_proposals", incident_id=incident_id, limit=limit)
        proposals = [p for p in backend.records.proposals() if incident_id is None or p["incident_id"] == incident_id]
        return ProposalListResult(invocation=invocation,
                                  proposals=jsonable(proposals[:max(0, min(limit, MAX_LIMIT))]))

    @server.tool()
    def get_decision(proposal_id: str) -> DecisionResult:
        """The gatekeeper's decisions on one proposal, newest first: allow or deny, the policy's reasons, the
        approvals considered and why each did or did not count, the OPA decision id and policy revision."""
        invocation = _call("get_decision", proposal_id=proposal_id)
        decisions = [d for d in backend.records.decisions() if d["proposal_id"] == proposal_id]
        if not decisions:
            return DecisionResult(status="not_found", invocation=invocation,
                                  error=f"no decision on {proposal_id!r} yet ({backend.records.reading()})")
        return DecisionResult(invocation=invocation, decisions=jsonable(decisions))

    @server.tool()
    async def propose_action(incident_id: str, action: str, parameters: dict[str, Any], rationale: str,
                             confidence: float = 0.5, evidence: list[dict[str, Any]] | None = None,
                             ctx: Context | None = None) -> ProposeResult:
        """Propose a catalog action for an incident. It is validated against the action catalog and sent to
        aiops.proposals; the gatekeeper's policy decides. Read-only actions may run on the policy's say-so;
        state-changing ones wait for signed human approvals. This tool never approves and never executes."""
        invocation = _call("propose_action", incident_id=incident_id, action=action, parameters=parameters,
                           rationale=rationale[:200], confidence=confidence, evidence=evidence)
        if backend.proposer is None:
            return ProposeResult(status="error", invocation=invocation, error="the server is not started")
        return await backend.proposer.propose(incident_id, action, parameters, rationale, confidence,
                                              evidence or [], _client_name(ctx), invocation)

    return server


def _add_handbook_resources(server: MCPServer, backend: Backend, directory: Path) -> None:
    """Every runbook, postmortem and note as a resource (handbook://runbooks/<id>, ...), Markdown as written."""
    for path in handbook_files(directory):
        try:
            document = load_document(path)
        except AiopsError as exc:  # one malformed file does not hide the others
            log.warning("handbook document %s not served: %s", path, exc)
            continue
        uri = handbook_uri(document.kind, document.id)
        backend.handbook[document.id] = uri
        server.add_resource(FileResource(uri=uri, name=document.id, title=document.title,
                                         description=f"{document.kind} about {', '.join(document.services)}",
                                         mime_type="text/markdown", path=path.resolve()))
