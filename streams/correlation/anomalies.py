"""Anomaly evidence not yet in an incident, and the rule that opens an incident from it without any alert.

The book keeps, per service, the anomalies seen recently (a table: service → {key → evidence}); evidence ages
out `window_s` of event time after it was last seen. An incident opens when the anomalies of a group of
services that call each other (each within `hops` call edges of another in the group) add up to `open_score`
(symptoms count `symptom_weight` of their score) from at least `min_evidence` observations (an anomaly found in
two windows counts twice): one odd reading opens nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.correlation.graph import DependencyGraph
from streams.correlation.incident import AnomalyEvidence, AnomalyFacts, IncidentState
from streams.correlation.signals import AnomalySignal


@dataclass(frozen=True)
class AnomalyConfig:
    open_score: float = 8.0
    min_evidence: int = 2
    window_s: float = 180.0
    hops: int = 1
    symptom_weight: float = 0.5


def evidence_from(signal: AnomalySignal) -> AnomalyEvidence:
    facts = signal.model_dump(include=set(AnomalyFacts.model_fields))
    return AnomalyEvidence(**{**facts, "trace_ids": signal.trace_ids[:5]}, key=signal.key,
                           first_seen=signal.window_start, last_seen=signal.event_time)


def weight(evidence: AnomalyEvidence, config: AnomalyConfig) -> float:
    """What one piece of evidence counts towards opening: its (strongest) score, a symptom's at a discount."""
    return evidence.score * (1.0 if evidence.role == "cause" else config.symptom_weight)


class AnomalyBook:
    def __init__(self, table: MutableMapping[str, Any], config: AnomalyConfig):
        self.table = table
        self.config = config

    def of(self, service: str) -> dict[str, AnomalyEvidence]:
        return {k: AnomalyEvidence.model_validate(v) for k, v in (self.table.get(service) or {}).items()}

    def add(self, evidence: AnomalyEvidence) -> None:
        known = self.of(evidence.service)
        old = known.get(evidence.key)
        known[evidence.key] = old.merged(evidence) if old else evidence
        self.table[evidence.service] = {k: v.model_dump(mode="json") for k, v in known.items()}

    def take(self, service: str, since: datetime | None = None) -> list[AnomalyEvidence]:
        """Remove and return a service's evidence (last seen at or after `since`, when given)."""
        found = self.of(service)
        if not found:
            return []
        self.table.pop(service, None)
        return [e for e in found.values() if since is None or e.last_seen >= since]

    def expire(self, now: float) -> None:
        for service in list(self.table.keys()):
            fresh = {k: v for k, v in self.of(service).items()
                     if now - v.last_seen.timestamp() <= self.config.window_s}
            if fresh:
                self.table[service] = {k: v.model_dump(mode="json") for k, v in fresh.items()}
            else:
                self.table.pop(service, None)

    def group(self, service: str, graph: DependencyGraph, now: float) -> list[AnomalyEvidence]:
        """The fresh evidence of `service` and of every service linked to it through services with evidence."""
        fresh: dict[str, list[AnomalyEvidence]] = {}
        for name in list(self.table.keys()):
            items = [e for e in self.of(name).values() if now - e.last_seen.timestamp() <= self.config.window_s]
            if items:
                fresh[name] = items
        if service not in fresh:
            return []
        seen, frontier = {service}, [service]
        while frontier:
            current = frontier.pop()
            for other in graph.within(current, self.config.hops) & set(fresh):
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        return [e for name in sorted(seen) for e in fresh[name]]

    def opens(self, evidence: list[AnomalyEvidence]) -> bool:
        """Enough evidence: the anomalies (each judgement window that found one counts) and their weight."""
        return (sum(e.observations for e in evidence) >= self.config.min_evidence
                and sum(weight(e, self.config) for e in evidence) >= self.config.open_score)


def anomaly_home(service: str, when: datetime, live: list[IncidentState], graph: DependencyGraph,
                 hops: int, gap_s: float) -> IncidentState | None:
    """The live incident a service's anomaly belongs to: one that holds the service, else one that holds a
    service within `hops` call edges of it and is within `gap_s` in time."""
    for incident in live:
        if service in incident.services:
            return incident
    near = graph.within(service, hops)
    close = [i for i in live if i.overlaps(when, gap_s) and near & set(i.services)]
    return max(close, key=lambda i: i.window_end) if close else None


def open_from(group: list[AnomalyEvidence], book: AnomalyBook,
              load: Callable[[str], IncidentState | None]) -> IncidentState:
    """The incident a group of evidence opens (a deterministic id, so a replay finds the same one); the
    evidence leaves the book."""
    first = min(group, key=lambda e: (e.first_seen, e.key))
    digest = hashlib.sha256(f"anomaly|{first.key}|{first.first_seen.isoformat()}".encode()).hexdigest()
    incident_id = f"inc-{digest[:16]}"
    incident = load(incident_id) or IncidentState(
        id=incident_id, window_start=first.first_seen, window_end=first.last_seen, opened_by="anomalies")
    for evidence in group:
        book.take(evidence.service)
        incident.add_service(evidence.service)
        incident.upsert_anomaly(evidence)
        incident.extend_window(evidence.first_seen)
        incident.extend_window(evidence.last_seen)
    return incident
