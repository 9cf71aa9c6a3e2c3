"""propose_action: an MCP client's proposal, validated by code against the action catalog and produced to
aiops.proposals like any proposer's, keyed by proposal id. The gatekeeper and its policy decide what happens to
it; nothing here can approve it, and nothing here executes anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from aiops.core.avro import AvroCodec
from aiops.core.catalog import POLICY_EXECUTORS, ActionCatalog, InvalidAction
from aiops.core.settings import Settings
from aiops.core.topics import PROPOSALS
from aiops.mcp.results import ProposeResult
from aiops.triage.context import ProposalDraft
from aiops.triage.proposals import to_proposal
from connectors.kafka_producer import AckedProducer, KafkaUnavailable
from streams.output_records import EvidenceRef
from streams.output_records import Proposer as ProposerIdentity

EVIDENCE_KINDS = ("alert", "log_template", "span", "document")


class Proposer:
    """Turns a client's request into a Proposal on aiops.proposals (never a decision, never an execution)."""

    def __init__(self, settings: Settings, catalog: ActionCatalog, codec: AvroCodec, producer: AckedProducer):
        self.settings, self.catalog, self.codec, self.producer = settings, catalog, codec, producer
        self.topic = settings.topic(PROPOSALS)

    async def propose(self, incident_id: str, action: str, parameters: dict[str, Any], rationale: str,
                      confidence: float, evidence: list[dict[str, Any]], client: str,
                      invocation: dict[str, Any]) -> ProposeResult:
        problems = [] if incident_id.strip() else ["incident_id is empty"]
        refs = []
        for index, item in enumerate(evidence):
            try:
                refs.append(EvidenceRef(kind=item.get("kind"), ref=str(item.get("ref", "")),
                                        summary=item.get("summary")))
            except (ValidationError, AttributeError):
                problems.append(f"evidence[{index}] must be an object with kind one of {', '.join(EVIDENCE_KINDS)} "
                                "and ref")
        if action in self.catalog and self.catalog[action].executor in POLICY_EXECUTORS:
            problems.append(f"{action} changes the policy; only the trust ladder (`aiops trust run`) proposes it")
        if problems:
            return ProposeResult(status="invalid", invocation=invocation, error="; ".join(problems),
                                 problems=problems)
        draft = ProposalDraft(action=action, parameters=parameters, rationale=rationale, confidence=confidence,
                              evidence=refs)
        who = f"mcp:{client}"[:200]
        proposer = ProposerIdentity(kind="llm", name=who, version="mcp", note="proposed through aiops mcp")
        try:
            proposal = to_proposal(draft, incident_id, self.catalog, proposer, datetime.now(UTC),
                                   timedelta(seconds=self.settings.proposal_ttl_s))
        except InvalidAction as exc:
            return ProposeResult(status="invalid", invocation=invocation, error=str(exc), problems=exc.problems)
        proposal = proposal.model_copy(update={"requested_by": who})
        try:
            await self.producer.send_all(self.topic, [(proposal.id.encode(), self.codec.encode(proposal.to_avro()))])
        except KafkaUnavailable as exc:
            return ProposeResult(status="error", invocation=invocation, error=f"Kafka did not take the proposal: {exc}",
                                 proposal_id=proposal.id)
        return ProposeResult(invocation=invocation, proposal_id=proposal.id, topic=self.topic,
                             risk_class=proposal.risk_class.value)
