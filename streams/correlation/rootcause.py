"""Naming the likely root-cause service of an incident, with the reason in words.

The rule a person would apply: follow the failing call chain down; the deepest failing service whose
own callees are healthy is the likely cause. Ties go to the service whose failures reach the most
callers, then to the one that failed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from streams.correlation.graph import DependencyGraph
from streams.correlation.incident import IncidentState


@dataclass
class OwnErrors:
    alerts: list[str] = field(default_factory=list)
    error_templates: int = 0
    error_spans: int = 0
    slow_spans: int = 0
    first_seen: datetime | None = None

    @property
    def failing(self) -> bool:
        return bool(self.alerts or self.error_templates or self.error_spans)

    def describe(self) -> str:
        parts = []
        if self.alerts:
            parts.append(f"alert{'s' if len(self.alerts) > 1 else ''} {', '.join(sorted(set(self.alerts)))}")
        if self.error_templates:
            parts.append(f"{self.error_templates} surging error log template{'s' * (self.error_templates > 1)}")
        if self.error_spans:
            parts.append(f"{self.error_spans} error span{'s' * (self.error_spans > 1)}")
        if self.slow_spans:
            parts.append(f"{self.slow_spans} slow span{'s' * (self.slow_spans > 1)}")
        return ", ".join(parts) or "no errors of its own"


def _own_errors(incident: IncidentState) -> dict[str, OwnErrors]:
    errors: dict[str, OwnErrors] = {s: OwnErrors() for s in incident.services}

    def seen(service: str, when: datetime) -> OwnErrors:
        own = errors.setdefault(service, OwnErrors())
        own.first_seen = when if own.first_seen is None else min(own.first_seen, when)
        return own

    # Only alerts that fire now count; an incident whose alerts all resolved keeps the story they told.
    alerts = incident.firing or list(incident.alerts.values())
    for alert in alerts:
        seen(alert.service, alert.starts_at).alerts.append(alert.name)
    for evidence in incident.log_evidence.values():
        if evidence.level.lower() in ("error", "critical", "fatal", "err", "crit", "panic", "emergency"):
            errors.setdefault(evidence.service, OwnErrors()).error_templates += 1
    for span in incident.span_evidence:
        own = seen(span.service, span.event_time)
        if span.kind == "error":
            own.error_spans += 1
        else:
            own.slow_spans += 1
    return errors


def rank_root_cause(incident: IncidentState, graph: DependencyGraph) -> dict:
    """The Avro RootCause record: service, reason, ranked candidates."""
    errors = _own_errors(incident)
    failing = {s for s, own in errors.items() if own.failing}
    if not failing:
        return {"service": None, "reason": "no service has errors of its own yet", "candidates": []}

    scored = []
    for service in sorted(failing):
        failing_callees = graph.downstream(service, failing)
        affected_callers = graph.upstream(service, failing)
        first = errors[service].first_seen
        # Deepest failing service (no failing callees) first; then the widest upstream impact; then the earliest.
        score = (0.6 if not failing_callees else 0.1) + 0.3 * (len(affected_callers) / max(1, len(failing) - 1))
        score += 0.1 * (1 if errors[service].alerts else 0)
        scored.append((service, round(min(score, 1.0), 3), failing_callees, affected_callers, first))
    scored.sort(key=lambda row: (-row[1], row[4].timestamp() if row[4] else float("inf"), row[0]))

    candidates = []
    for service, score, failing_callees, callers, _ in scored:
        if failing_callees:
            why = f"calls failing {', '.join(sorted(failing_callees))}; its errors may be inherited"
        elif callers:
            why = f"deepest failing service; {len(callers)} failing caller(s) depend on it"
        else:
            why = "failing, with no failing callees"
        candidates.append({"service": service, "score": score, "reason": f"{why} ({errors[service].describe()})"})

    top, score, failing_callees, callers, _ = scored[0]
    runner_up = scored[1][1] if len(scored) > 1 else 0.0
    if failing_callees:
        reason = (f"{top} ranks first but calls failing services ({', '.join(sorted(failing_callees))}); "
                  f"no failing service without failing callees was found")
    else:
        chain = graph.chain_to(top, failing)
        if len(chain) > 1:
            reason = (f"{top} is the deepest failing service in the call chain {' → '.join(chain)}: it has "
                      f"errors of its own ({errors[top].describe()}) and none of its callees fail")
        else:
            reason = f"{top} has errors of its own ({errors[top].describe()}) and none of its callees fail"
    if runner_up and score - runner_up < 0.15:
        reason += "; unsure, see the ranked candidates"
    return {"service": top, "reason": reason, "candidates": candidates}
