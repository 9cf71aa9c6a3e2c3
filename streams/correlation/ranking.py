"""Ranking the likely root cause of an incident across the call graph, from every kind of evidence.

Each service in the incident gets its own evidence: firing alerts, error-level log templates, error spans, and
anomalies (spans, log patterns, metrics), each anomaly a cause (the service's own misbehaviour) or a symptom
(what it shows when something below it misbehaves). Two ways to combine them with the graph, chosen by
`RankingConfig.method`:

- `blame` (explicit blame propagation): a service's score is its own cause evidence, plus a share of the
  symptoms of the services whose anomalous calls lead down to it, each symptomatic service's symptoms divided
  among the services with cause evidence below it in proportion to that evidence: the service whose own
  misbehaviour best explains its callers' symptoms ranks first.
- `walk` (a personalised random walk, as MicroRank and MicroCause do): a walker starts at services in
  proportion to their anomalies and moves from a caller to a callee in proportion to the callee's anomalies,
  staying where there is cause evidence; the most visited services rank first.

Evidence is weighed by what it shows now: an anomaly counts by the mean of its strongest and its latest
reading (a condition easing since its worst, such as a slowness older than the fault, counts less than one
still at its worst), and evidence gone for minutes before the incident's latest counts less the longer it has
been gone. A service's own measured misbehaviour (own time, resources, its side of the network) explains its
own symptoms alongside the services below it, so a slow callee does not take all the credit for a caller
whose own CPU is saturated.

Calls into a service are its evidence (the callee's latency as its callers see it); time on the wire is the
call's, and goes to whichever end takes part in more calls with time on the wire (a delay on one service's
network shows on its calls in and out).

Incidents that carry no anomaly evidence (alerts, logs and spans only) keep the rule a person would apply:
the deepest failing service in the failing call chain (streams/correlation/rootcause.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from streams.correlation.graph import DependencyGraph
from streams.correlation.incident import AnomalyEvidence, IncidentState
from streams.correlation.rootcause import rank_root_cause

# How much one unit of score of each kind of evidence counts as cause evidence of the service.
CAUSE_WEIGHTS = {"log_pattern": 1.0, "network": 1.0, "self_time": 0.8, "errors": 0.8, "metric": 1.0,
                 "client_latency": 0.8, "latency": 0.3}
ALERT_WEIGHT = {"critical": 8.0, "error": 6.0, "warning": 3.0, "info": 1.0, "unknown": 3.0}
ERROR_TEMPLATE_WEIGHT = 1.5
# Cause evidence measured on the service itself, which explains its own symptoms too (its own time is part of
# its latency; a saturated CPU slows and fails its requests). An error line or a changed log pattern does not:
# a service logs the failures of the calls it makes as readily as its own.
MEASURED_SIGNALS = {"self_time", "metric", "network", "network (its own side)"}
MAX_EVIDENCE_LINES = 5
PERSISTENT_WINDOWS = 6
STALE_AFTER_S = 60.0
MAGNITUDE_REFERENCE_MS = 300.0


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
    measured: float = 0.0  # the part of `cause` measured on the service itself: own time, resources, its network

    def add(self, amount: float, line: str, cause: bool, measured: bool = False) -> None:
        if cause:
            self.cause += amount
            self.measured += amount if measured else 0.0
        else:
            self.symptom += amount
        self.lines = [*(self.lines or []), (amount, line)]

    def top_lines(self) -> list[str]:
        """Cause evidence first, strongest first; then symptoms."""
        ordered = sorted(self.lines or [], key=lambda x: (not x[1].startswith(("cause", "alert", "log ")), -x[0]))
        return [line for _, line in ordered[:MAX_EVIDENCE_LINES]]


def _diminishing(scores: list[float]) -> float:
    """Several readings of one kind add up, each less than the one before (1, 1/2, 1/4, ...)."""
    return sum(score / (2 ** i) for i, score in enumerate(sorted(scores, reverse=True)))


def magnitude(anomaly: AnomalyEvidence) -> float:
    """Latency evidence counts by the time it adds (a second on every call outweighs a few milliseconds that
    are just as unusual): 0.5 for 10 ms or less, 1 for MAGNITUDE_REFERENCE_MS, up to 1.5."""
    if anomaly.unit != "ms" or anomaly.value is None:
        return 1.0
    added = anomaly.value - (anomaly.baseline or 0.0)
    return min(1.5, max(0.5, math.log10(max(added, 10.0)) / math.log10(MAGNITUDE_REFERENCE_MS)))


def strength(anomaly: AnomalyEvidence) -> float:
    """Its strongest reading and its latest count alike: a condition that has eased since its worst (it
    was there before the fault and is fading) counts less than one still at its worst."""
    return (anomaly.score + anomaly.current_score) / 2


def currency(anomaly: AnomalyEvidence, latest: datetime) -> float:
    """Evidence that stopped showing a while before the incident's latest evidence was an earlier episode (or a
    condition that has since passed): it counts half for every STALE_AFTER_S it has been gone beyond the first."""
    gone = (latest - anomaly.last_seen).total_seconds()
    return 0.5 ** max(0.0, gone / STALE_AFTER_S - 1.0)


def persistence(anomaly: AnomalyEvidence) -> float:
    """A fault persists; noise comes and goes: evidence found in fewer than PERSISTENT_WINDOWS judgements
    counts in proportion."""
    return min(1.0, anomaly.observations / PERSISTENT_WINDOWS)


def caller_side(incident: IncidentState) -> dict[str, list[AnomalyEvidence]]:
    """Time on the wire belongs to the call, not to either end: each such anomaly goes to the end (caller or
    callee) that takes part in more calls with time on the wire; ties stay with the callee. Slow calls to a
    callee without spans go to a caller whose network is slow. Returns the callers that take some over, with
    the anomalies they take."""
    network = [a for a in incident.anomalies.values() if a.signal == "network" and a.peer]
    touching: dict[str, int] = defaultdict(int)
    for a in network:
        touching[a.service] += 1
        touching[a.peer or ""] += 1
    moved: dict[str, list[AnomalyEvidence]] = defaultdict(list)
    for a in network:
        if touching[a.peer or ""] > touching[a.service]:
            moved[a.peer or ""].append(a)
    # A callee without spans of its own (a database) is judged by its caller's view alone: when that caller's
    # network is slow, the caller's network explains the slow calls.
    for a in incident.anomalies.values():
        if a.signal == "client_latency" and a.role == "cause" and a.peer and touching[a.peer] > 0:
            moved[a.peer].append(a)
    return dict(moved)


def collect(incident: IncidentState, moved: dict[str, list[AnomalyEvidence]]) -> dict[str, Evidence]:
    """Every service's own evidence, as cause and symptom strength with the lines behind them."""
    evidence: dict[str, Evidence] = defaultdict(Evidence)
    firing = [a for a in incident.alerts.values() if a.status == "firing"]
    for alert in firing:
        evidence[alert.service].add(ALERT_WEIGHT.get(alert.severity.value, 3.0),
                                    f"alert {alert.name} ({alert.severity.value}, firing)", cause=True)
    for log in incident.log_evidence.values():
        if log.level.lower() in ("error", "critical", "fatal", "err", "crit", "panic", "emergency"):
            evidence[log.service].add(ERROR_TEMPLATE_WEIGHT, f"log {log.reason}: {log.template[:120]}", cause=True)
    reattributed = {a.key for items in moved.values() for a in items}
    grouped: dict[tuple[str, str, bool], list[tuple[float, str]]] = defaultdict(list)
    latest = max(a.last_seen for a in incident.anomalies.values())
    for anomaly in incident.anomalies.values():
        if anomaly.key in reattributed:
            continue
        cause = anomaly.role == "cause"
        weight = ((CAUSE_WEIGHTS.get(anomaly.signal, 0.5) if cause else 1.0) * persistence(anomaly)
                  * magnitude(anomaly) * currency(anomaly, latest))
        grouped[(anomaly.service, anomaly.signal, cause)].append(
            (strength(anomaly) * weight, f"{anomaly.role} {anomaly.signal}: {anomaly.reason}"))
    for caller, taken in moved.items():
        for a in taken:
            grouped[(caller, "network (its own side)", True)].append(
                (strength(a) * CAUSE_WEIGHTS["network"] * persistence(a) * magnitude(a) * currency(a, latest),
                 f"cause network: its own calls to {a.service} ({a.reason}), and it takes part in more calls "
                 f"with time on the wire than {a.service}"))
    for (service, signal, cause), items in grouped.items():
        total = _diminishing([amount for amount, _ in items])
        best = max(items, key=lambda x: x[0])
        line = best[1] + (f" (+{len(items) - 1} more)" if len(items) > 1 else "")
        evidence[service].add(total, line, cause=cause, measured=signal in MEASURED_SIGNALS)
    for span in incident.span_evidence:
        if span.kind == "error":
            evidence[span.service].add(0.5, f"error span {span.operation} trace {span.trace_id}", cause=False)
    return evidence


def anomalous_calls(incident: IncidentState, moved: dict[str, list[AnomalyEvidence]]) -> dict[str, set[str]]:
    """Caller → callees whose calls from it are anomalous (and not the caller's own side of them)."""
    reattributed = {a.key for items in moved.values() for a in items}
    calls: dict[str, set[str]] = defaultdict(set)
    for a in incident.anomalies.values():
        if a.peer and a.key not in reattributed:
            calls[a.peer].add(a.service)
    return calls


def _explainers(service: str, calls: dict[str, set[str]], graph: DependencyGraph,
                evidence: dict[str, Evidence]) -> set[str]:
    """The services with cause evidence that can explain `service`'s symptoms: those its anomalous calls lead
    down to (callee by callee)."""
    found: set[str] = set()
    seen = {service}
    frontier = [service]
    while frontier:
        current = frontier.pop()
        for callee in calls.get(current, set()):
            if callee in evidence and callee not in seen:
                seen.add(callee)
                frontier.append(callee)
                if evidence[callee].cause > 0:
                    found.add(callee)
    return found


def blame(evidence: dict[str, Evidence], graph: DependencyGraph, config: RankingConfig,
          calls: dict[str, set[str]]) -> dict[str, tuple[float, list[str]]]:
    services = set(evidence)
    credit = {s: 0.0 for s in services}
    explained: dict[str, list[str]] = defaultdict(list)
    for caller in services:
        if not evidence[caller].symptom:
            continue
        # The services below it with cause evidence explain its symptoms, and so does its own measured
        # misbehaviour: a slow callee does not get the credit for a caller whose own time or CPU is off too.
        shares = {s: evidence[s].cause for s in _explainers(caller, calls, graph, evidence)}
        if shares and evidence[caller].measured:
            shares[caller] = evidence[caller].measured
        total = sum(shares.values())
        for service, share in shares.items():
            credit[service] += config.propagation * evidence[caller].symptom * share / total
            if service != caller:
                explained[service].append(caller)
    # Explaining others' symptoms can at most double a service's own evidence: a faint anomaly below loud
    # symptoms is not made the cause by them.
    scores = {s: evidence[s].cause + min(credit[s], evidence[s].cause) for s in services}
    for service in services:
        if not evidence[service].cause:  # nothing of its own: its symptoms are all it shows
            scores[service] = 0.1 * evidence[service].symptom
    return {s: (scores[s], sorted(explained[s])) for s in services}


def walk(evidence: dict[str, Evidence], graph: DependencyGraph, config: RankingConfig,
         calls: dict[str, set[str]]) -> dict[str, tuple[float, list[str]]]:
    services = sorted(evidence)
    anomaly = {s: evidence[s].cause + evidence[s].symptom for s in services}
    total = sum(anomaly.values()) or 1.0
    start = {s: anomaly[s] / total for s in services}
    moves: dict[str, dict[str, float]] = {}
    for s in services:
        callees = (calls.get(s, set()) | graph.callees.get(s, set())) & set(evidence)
        out = {c: anomaly[c] * (2.0 if c in calls.get(s, set()) else 1.0) for c in callees}
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
    moved = caller_side(incident)
    evidence = collect(incident, moved)
    calls = anomalous_calls(incident, moved)
    scored = (walk if config.method == "walk" else blame)(evidence, graph, config, calls)
    order = sorted(scored, key=lambda s: (-scored[s][0], -evidence[s].cause, s))
    candidates: list[dict[str, Any]] = []
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
