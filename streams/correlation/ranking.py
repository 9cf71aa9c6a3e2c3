"""Ranking the likely root cause of an incident across the call graph, from every kind of evidence.

Each service in the incident gets its own evidence: firing alerts, error-level log templates, error spans, and
anomalies (spans, log patterns, metrics), each anomaly a cause (the service's own misbehaviour) or a symptom
(what it shows when something below it misbehaves). Two ways to combine them with the graph, chosen by
`RankingConfig.method`:

- `blame` (explicit blame propagation): a service's score is its own cause evidence, plus a share of the
  symptoms of the services that call it (directly or through others), each caller's symptoms divided among
  the services below it in proportion to their own cause evidence: the service whose own misbehaviour best
  explains its callers' symptoms ranks first.
- `walk` (a personalised random walk, as MicroRank and MicroCause do): a walker starts at services in
  proportion to their anomalies and moves from a caller to a callee in proportion to the callee's anomalies,
  staying where there is cause evidence; the most visited services rank first.

Incidents that carry no anomaly evidence (alerts, logs and spans only) keep the rule a person would apply:
the deepest failing service in the failing call chain (streams/correlation/rootcause.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from streams.correlation.graph import DependencyGraph
from streams.correlation.incident import IncidentState
from streams.correlation.rootcause import rank_root_cause

# How much one unit of score of each kind of evidence counts as cause evidence of the service.
CAUSE_WEIGHTS = {"log_pattern": 1.0, "network": 1.0, "self_time": 0.8, "errors": 0.8, "metric": 1.0,
                 "client_latency": 0.8, "latency": 0.3}
ALERT_WEIGHT = {"critical": 8.0, "error": 6.0, "warning": 3.0, "info": 1.0, "unknown": 3.0}
ERROR_TEMPLATE_WEIGHT = 1.5
MAX_EVIDENCE_LINES = 5


@dataclass(frozen=True)
class RankingConfig:
    method: Literal["blame", "walk"] = "blame"
    propagation: float = 0.5  # blame: share of callers' symptoms a service can take on
    restart: float = 0.15  # walk: probability of starting over
    candidates: int = 5


@dataclass
class Evidence:
    cause: float = 0.0
    symptom: float = 0.0
    lines: list[tuple[float, str]] | None = None

    def add(self, amount: float, line: str, cause: bool) -> None:
        if cause:
            self.cause += amount
        else:
            self.symptom += amount
        self.lines = [*(self.lines or []), (amount, line)]

    def top_lines(self) -> list[str]:
        return [line for _, line in sorted(self.lines or [], key=lambda x: -x[0])[:MAX_EVIDENCE_LINES]]


def _diminishing(scores: list[float]) -> float:
    """Several readings of one kind add up, each less than the one before (1, 1/2, 1/4, ...)."""
    return sum(score / (2 ** i) for i, score in enumerate(sorted(scores, reverse=True)))


def collect(incident: IncidentState) -> dict[str, Evidence]:
    """Every service's own evidence, as cause and symptom strength with the lines behind them."""
    evidence: dict[str, Evidence] = defaultdict(Evidence)
    firing = [a for a in incident.alerts.values() if a.status == "firing"]
    for alert in firing:
        evidence[alert.service].add(ALERT_WEIGHT.get(alert.severity.value, 3.0),
                                    f"alert {alert.name} ({alert.severity.value}, firing)", cause=True)
    for log in incident.log_evidence.values():
        if log.level.lower() in ("error", "critical", "fatal", "err", "crit", "panic", "emergency"):
            evidence[log.service].add(ERROR_TEMPLATE_WEIGHT, f"log {log.reason}: {log.template[:120]}", cause=True)
    grouped: dict[tuple[str, str, bool], list[tuple[float, str]]] = defaultdict(list)
    for anomaly in incident.anomalies.values():
        cause = anomaly.role == "cause"
        weight = CAUSE_WEIGHTS.get(anomaly.signal, 0.5) if cause else 1.0
        grouped[(anomaly.service, anomaly.signal, cause)].append(
            (anomaly.score * weight, f"{anomaly.role} {anomaly.signal}: {anomaly.reason}"))
    for (service, _, cause), items in grouped.items():
        total = _diminishing([amount for amount, _ in items])
        best = max(items, key=lambda x: x[0])
        line = best[1] + (f" (+{len(items) - 1} more)" if len(items) > 1 else "")
        evidence[service].add(total, line, cause=cause)
    for span in incident.span_evidence:
        if span.kind == "error":
            evidence[span.service].add(0.5, f"error span {span.operation} trace {span.trace_id}", cause=False)
    return evidence


def _below(graph: DependencyGraph, service: str, among: set[str]) -> set[str]:
    """Services among `among` reachable from `service` along call edges (callees, their callees, ...)."""
    seen: set[str] = set()
    frontier = [service]
    while frontier:
        current = frontier.pop()
        for callee in graph.callees.get(current, set()):
            if callee in among and callee not in seen:
                seen.add(callee)
                frontier.append(callee)
    seen.discard(service)
    return seen


def blame(evidence: dict[str, Evidence], graph: DependencyGraph, config: RankingConfig
          ) -> dict[str, tuple[float, list[str]]]:
    services = set(evidence)
    scores = {s: evidence[s].cause for s in services}
    explained: dict[str, list[str]] = defaultdict(list)
    for caller in services:
        if not evidence[caller].symptom:
            continue
        below = [s for s in _below(graph, caller, services) if evidence[s].cause > 0]
        total = sum(evidence[s].cause for s in below)
        for service in below:
            scores[service] += config.propagation * evidence[caller].symptom * evidence[service].cause / total
            explained[service].append(caller)
        if not below:  # nothing below explains it: the caller's own symptoms count a little for itself
            scores[caller] += config.propagation * evidence[caller].symptom * 0.5
    return {s: (scores[s], sorted(explained[s])) for s in services}


def walk(evidence: dict[str, Evidence], graph: DependencyGraph, config: RankingConfig
         ) -> dict[str, tuple[float, list[str]]]:
    services = sorted(evidence)
    anomaly = {s: evidence[s].cause + evidence[s].symptom for s in services}
    total = sum(anomaly.values()) or 1.0
    start = {s: anomaly[s] / total for s in services}
    moves: dict[str, dict[str, float]] = {}
    for s in services:
        out = {c: anomaly[c] for c in graph.callees.get(s, set()) if c in evidence}
        out[s] = evidence[s].cause + 1e-3  # staying: own cause evidence holds the walker
        for caller in graph.callers.get(s, set()):
            if caller in evidence:
                out[caller] = out.get(caller, 0.0) + 0.1 * anomaly[caller]  # a little backtracking
        norm = sum(out.values())
        moves[s] = {t: w / norm for t, w in out.items()}
    visit = dict(start)
    for _ in range(60):
        nxt = {s: config.restart * start[s] for s in services}
        for s, p in visit.items():
            for t, share in moves[s].items():
                nxt[t] += (1 - config.restart) * p * share
        visit = nxt
    return {s: (round(10 * visit[s], 4), sorted(c for c in graph.callers.get(s, set()) if c in evidence))
            for s in services}


def rank(incident: IncidentState, graph: DependencyGraph, config: RankingConfig | None = None) -> dict:
    """The Avro RootCause record: service, reason, ranked candidates with their evidence."""
    config = config or RankingConfig()
    if not incident.anomalies:
        return rank_root_cause(incident, graph)
    evidence = collect(incident)
    scored = (walk if config.method == "walk" else blame)(evidence, graph, config)
    order = sorted(scored, key=lambda s: (-scored[s][0], -evidence[s].cause, s))
    candidates = []
    for service in order[:config.candidates]:
        score, callers = scored[service]
        own = evidence[service]
        parts = [f"own evidence {own.cause:.1f}"]
        if callers:
            parts.append(f"explains symptoms of {', '.join(callers)}")
        if own.symptom:
            parts.append(f"symptoms {own.symptom:.1f}")
        candidates.append({"service": service, "score": round(score, 3), "reason": "; ".join(parts),
                           "evidence": own.top_lines()})
    top = candidates[0]
    lead = evidence[top["service"]].top_lines()[:2]
    reason = f"{top['service']} ranks first ({config.method}): {top['reason']}"
    if lead:
        reason += f"; strongest: {lead[0]}"
    if len(candidates) > 1 and candidates[1]["score"] > 0.8 * top["score"]:
        reason += f"; unsure, {candidates[1]['service']} is close"
    return {"service": top["service"], "reason": reason, "candidates": candidates}
