"""The deterministic runbook reasoner, the default when no LLM is configured.

It follows what an on-call engineer does with a good handbook: take the runbook that best matches the
incident's likely root cause, run its first diagnosis step, and propose its first remediation, with the
incident's evidence and the documents as references.
"""

from __future__ import annotations

from typing import Any

from aiops.core.catalog import ActionCatalog, RiskClass
from aiops.core.errors import InvalidAction
from aiops.triage.context import ProposalDraft, RetrievedDocument, TriageContext
from streams.output_records import EvidenceRef, Incident

NAME = "runbook-reasoner"
VERSION = "1"
SERVICE_PARAMETERS = ("service", "deployment")


def evidence_refs(incident: Incident, documents: list[RetrievedDocument]) -> list[EvidenceRef]:
    """References to the evidence a proposal rests on: alerts, log templates, spans, documents."""
    refs: list[EvidenceRef] = []
    for alert in incident.alerts[:5]:
        refs.append(EvidenceRef(kind="alert", ref=alert.fingerprint, summary=f"{alert.name} on {alert.service}"))
    for log in incident.log_evidence[:3]:
        refs.append(EvidenceRef(kind="log_template", ref=f"{log.service}:{log.template_id}",
                                summary=log.template[:200]))
    for span in incident.span_evidence[:3]:
        refs.append(EvidenceRef(kind="span", ref=f"{span.trace_id}:{span.span_id}",
                                summary=f"{span.kind} {span.service} {span.operation}"))
    for doc in documents[:3]:
        refs.append(EvidenceRef(kind="document", ref=doc.doc_id, summary=f"{doc.kind}: {doc.title}"[:200]))
    return refs


def _best_runbooks(ctx: TriageContext) -> list[RetrievedDocument]:
    """Runbooks about the likely root-cause service first, then about any service of the incident, then the
    rest; retrieval order (score) within each group: retrieval judges relevance, the services only filter."""
    runbooks = [d for d in ctx.documents if d.kind == "runbook" and d.actions]

    def group(doc: RetrievedDocument) -> int:
        if ctx.root_service and ctx.root_service in doc.services:
            return 0
        return 1 if set(doc.services) & set(ctx.services) else 2

    return sorted(runbooks, key=lambda d: (group(d), -d.score))


TARGET_PARAMETERS = ("service", "deployment", "database")


def _retarget(value: Any, ctx: TriageContext) -> Any:
    """Runbooks are written with one service as the example (orders-db); an incident on a sibling
    (inventory-db) gets the same step aimed at its own service: same role suffix, root cause preferred."""
    if not isinstance(value, str) or value in ctx.services:
        return value
    for service in sorted(ctx.services, key=lambda s: s != ctx.root_service):
        old_role, new_role = value.rsplit("-", 1)[-1], service.rsplit("-", 1)[-1]
        if old_role == new_role:
            return service
    return value


def _complete(parameters: dict[str, Any], doc: RetrievedDocument, ctx: TriageContext,
              catalog: ActionCatalog, action: str) -> dict[str, Any]:
    """Fill what documents leave implicit (environment, namespace, the service an action takes) and aim
    the step at this incident's services."""
    completed = dict(parameters)
    completed.setdefault("environment", ctx.environment)
    completed.setdefault("namespace", ctx.namespace)
    spec = catalog.actions.get(action)
    if spec is not None and "service" in spec.parameters and "service" not in completed:
        completed["service"] = ctx.root_service if ctx.root_service in doc.services or not doc.services \
            else doc.services[0]
    for name in TARGET_PARAMETERS:
        if name in completed:
            old = completed[name]
            completed[name] = _retarget(old, ctx)
            # A replica named after its database follows the database (orders-db-replica-1).
            for other, value in completed.items():
                if other not in TARGET_PARAMETERS and isinstance(value, str) and old != completed[name] \
                        and value.startswith(f"{old}-"):
                    completed[other] = f"{completed[name]}{value[len(old):]}"
    return completed


class RunbookReasoner:
    def __init__(self, catalog: ActionCatalog):
        self.catalog = catalog

    def propose(self, ctx: TriageContext) -> list[ProposalDraft]:
        runbooks = _best_runbooks(ctx)
        refs_all = evidence_refs(ctx.incident, ctx.documents)
        root = ctx.root_service
        if not runbooks:
            return self._diagnose_only(ctx, refs_all, "no runbook in the handbook matched this incident")
        runbook = runbooks[0]
        refs = evidence_refs(ctx.incident, [runbook, *[d for d in ctx.documents if d is not runbook]])
        # Confidence grows with how well the runbook fits: about the root cause, and clearly ahead of the next.
        runner_up = runbooks[1].score if len(runbooks) > 1 else 0.0
        fit = (0.3 if root and root in runbook.services else 0.0) + (0.15 if runbook.score > 1.2 * runner_up else 0.0)
        confidence = round(min(0.95, 0.4 + fit), 2)
        drafts: list[ProposalDraft] = []
        diagnosis: dict[str, Any] | None = None
        remediation: dict[str, Any] | None = None
        for step in runbook.actions:
            action = step.get("action")
            if not isinstance(action, str) or action not in self.catalog:
                continue  # a runbook naming an action outside the catalog is not followed
            read_only = self.catalog[action].risk_class == RiskClass.read_only
            if read_only and diagnosis is None:
                diagnosis = step
            elif not read_only and remediation is None:
                remediation = step
        for chosen, why in ((diagnosis, "diagnosis step"), (remediation, "remediation")):
            if chosen is None:
                continue
            step = chosen
            parameters = _complete(step.get("parameters") or {}, runbook, ctx, self.catalog, step["action"])
            try:
                self.catalog.validate(step["action"], parameters)
            except InvalidAction:
                continue
            when = f" ({step['when']})" if step.get("when") else ""
            reason = ctx.incident.root_cause.reason
            cause = f"likely root cause {root}: {reason}" if root else "root cause unknown"
            drafts.append(ProposalDraft(
                action=step["action"], parameters=parameters,
                rationale=f"Runbook {runbook.doc_id} \"{runbook.title}\" {why}{when}; {cause}",
                confidence=confidence if step is remediation else min(0.99, confidence + 0.1),
                evidence=refs,
            ))
        return drafts or self._diagnose_only(ctx, refs_all, f"runbook {runbook.doc_id} had no applicable action")

    def _diagnose_only(self, ctx: TriageContext, refs: list[EvidenceRef], why: str) -> list[ProposalDraft]:
        service = ctx.root_service or (ctx.services[0] if ctx.services else None)
        if service is None:
            return []
        parameters = {"environment": ctx.environment, "namespace": ctx.namespace, "service": service}
        return [ProposalDraft(action="collect_diagnostics", parameters=parameters,
                              rationale=f"{why}; collecting diagnostics from {service}, the likely root cause",
                              confidence=0.3, evidence=refs)]
