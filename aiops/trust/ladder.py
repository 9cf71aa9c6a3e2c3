"""The ladder's moves: ask the bundle's rules (OPA) whether a record earns a promotion or a demotion, and build
the promotion proposal and the demotion's grant and Decision.

The thresholds are bundle data evaluated in Rego (policy/earned_autonomy.rego), never here. Both questions
fail safe: no answer from OPA means no promotion, while a harmful outcome since the grant demotes even then.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core.settings import Settings
from aiops.trust.track_record import DEMOTION_TRIGGER, PROMOTE, TrackRecord, evidence_text
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors.http import HttpClient
from connectors.executors.opa_data import now_rfc3339
from streams.output_records import Decision, EvidenceRef, Proposal, Proposer, Target

log = logging.getLogger("trust")
PROPOSER = Proposer(kind="reasoner", name="trust-ladder", version="1")


@dataclass(frozen=True)
class Verdict:
    yes: bool
    reasons: list[str]
    answered: bool = True  # False: OPA gave no usable answer (asked again later)


class LadderRules:
    """The bundle's promotion and demotion rules, asked through OPA's data API."""

    def __init__(self, settings: Settings):
        self.opa_url = settings.opa_url.rstrip("/")
        self.http = HttpClient(settings.opa_timeout_s)

    async def _ask(self, rule: str, rec: TrackRecord) -> dict[str, Any] | None:
        url = f"{self.opa_url}/v1/data/aiops/earned_autonomy/{rule}"
        try:
            status, text, body = await self.http.request("POST", url, body={"input": {"track_record":
                                                                                       rec.for_policy()}})
        except (ExecutorError, OutcomeUnknown) as exc:
            log.warning("no %s answer from OPA for %s: %s", rule, rec.selector.label(), exc)
            return None
        result = body.get("result") if status == 200 and isinstance(body, dict) else None
        if not isinstance(result, dict):
            log.warning("no %s answer from OPA for %s: HTTP %s %s", rule, rec.selector.label(), status, text[:200])
            return None
        return result

    async def promotion(self, rec: TrackRecord) -> Verdict:
        result = await self._ask("promotion", rec)
        if result is None:
            return Verdict(False, ["no answer from OPA"], answered=False)
        if result.get("eligible") is not True:
            unmet = result.get("unmet")
            return Verdict(False, [str(u) for u in unmet] if isinstance(unmet, list) else ["malformed answer"])
        return Verdict(True, [])

    async def demotion(self, rec: TrackRecord) -> Verdict:
        result = await self._ask("demotion", rec)
        if result is None or not isinstance(result.get("demote"), bool):
            harmful = rec.since_grant["harmful"]
            # Fail safe: without the rule's answer, a harmful outcome still demotes.
            return Verdict(harmful > 0, [f"{harmful} harmful outcome(s) since the grant (OPA did not answer)"]
                           if harmful else [], answered=False)
        return Verdict(result["demote"], [str(r) for r in result.get("reasons") or []])

    async def close(self) -> None:
        await self.http.close()


def promotion_proposal(rec: TrackRecord, settings: Settings, now: datetime | None = None) -> Proposal:
    """The policy-change proposal for one selector: its parameters name the grant, its evidence the record."""
    now = now or datetime.now(UTC)
    s = rec.selector
    pid = f"promote-{uuid.uuid4().hex[:12]}"
    patch = f"data.autonomy.grants.{s.action}.{s.environment}.{s.namespace} = {{autonomous: true, proposal_id: {pid}}}"
    return Proposal(
        id=pid, incident_id=f"trust-ladder:{s.action}/{s.environment}/{s.namespace}", action=PROMOTE,
        parameters={"environment": s.environment, "namespace": s.namespace, "subject_action": s.action,
                    "evidence": evidence_text(rec)},
        target=Target(environment=s.environment, namespace=s.namespace, service="aiops-policy"),
        risk_class="destructive", blast_radius=1,
        rationale=(f"{s.action} in {s.environment}/{s.namespace} earned autonomy under the bundle's rule: "
                   f"{rec.approved_executions} approved executions, {rec.helpful} helpful, {rec.no_effect} no "
                   f"effect, {rec.harmful} harmful. Approving writes {patch}."),
        evidence=[EvidenceRef(kind="document", ref=f"aiops.outcomes:{s.label()}",
                              summary=f"{rec.helpful}/{rec.approved_executions} helpful, {rec.harmful} harmful")],
        confidence=1.0, proposer=PROPOSER, created_at=now,
        expires_at=now + timedelta(seconds=settings.trust_proposal_ttl_s), idempotency_key=f"{pid}:{PROMOTE}")


def demoted_grant(rec: TrackRecord, reasons: list[str]) -> dict[str, Any]:
    """The grant document that puts a selector back to approval-gated (policy/earned_autonomy.rego: any grant
    that does not say autonomous demotes)."""
    assert rec.grant is not None
    return {"autonomous": False, "proposal_id": rec.grant.proposal_id, "demoted_at": now_rfc3339(),
            "reasons": reasons}


def demotion_decision(rec: TrackRecord, reasons: list[str], where: str, now: datetime | None = None) -> Decision:
    """The Decision that says why: keyed by the promotion it undoes, so the audit reads promotion -> demotion."""
    assert rec.grant is not None
    return Decision(
        id=uuid.uuid4().hex, proposal_id=rec.grant.proposal_id, allow=False,
        reasons=[f"trust ladder: {rec.selector.label()} demoted to approval-gated: {r}" for r in reasons]
        + [f"trust ladder: demotion written to {where}"],
        trigger=DEMOTION_TRIGGER, evaluated_at=now or datetime.now(UTC), latency_ms=0.0)
