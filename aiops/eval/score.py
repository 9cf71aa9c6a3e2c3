"""Scoring a case from the incident snapshots the pipeline produced for it.

An incident's opening time is the event time of its first snapshot. For a fault case:
- incidents opened by anomalies before `warmup_until` were opened in the fault-free reference window: false
  incidents (one an alert opened is the user's own rule firing, not a false one);
- the case's incident is the one, among those opened after the warm-up, that holds the labelled service (the
  one with the most evidence when several do; when none does, the one with the most evidence: a miss);
- top-1 / top-3: where the labelled service stands among the final snapshot's ranked candidates;
- time to detect: from the fault to the first snapshot after it of any incident naming the labelled service
  first;
- other incidents: further incidents opened after the warm-up (each described in `others`).
For a fault-free case every incident anomalies opened is a false one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from aiops.eval.cases import Case


@dataclass
class CaseResult:
    case_id: str
    root_cause: str | None
    fault_type: str | None
    opened: bool = False
    incident: str | None = None
    named: str | None = None  # the top candidate of the case's incident
    candidates: list[str] = field(default_factory=list)
    rank: int | None = None
    top1: bool = False
    top3: bool = False
    detect_s: float | None = None
    false_incidents: int = 0
    other_incidents: int = 0
    why: str = ""
    evidence: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # the other and false incidents, one line each

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _when(record: dict[str, Any]) -> float:
    value = record["updated_at"]
    return value.timestamp() if isinstance(value, datetime) else float(value) / 1000.0


def latest_by_incident(snapshots: list[dict[str, Any]]) -> dict[str, tuple[float, dict[str, Any]]]:
    """Incident id → (opening time, latest snapshot)."""
    found: dict[str, tuple[float, dict[str, Any]]] = {}
    for record in snapshots:
        opened, latest = found.get(record["id"], (_when(record), record))
        if record["version"] >= latest["version"]:
            latest = record
        found[record["id"]] = (min(opened, _when(record)), latest)
    return found


def _by_anomalies(record: dict[str, Any]) -> bool:
    return record.get("opened_by", "alert") == "anomalies"


def _strength(record: dict[str, Any]) -> float:
    return sum(a["score"] for a in record.get("anomaly_evidence", [])) + 5.0 * len(record.get("alerts", []))


def score_case(case: Case, snapshots: list[dict[str, Any]]) -> CaseResult:
    label = case.label
    result = CaseResult(case.case_id, label.root_cause_service, label.fault_type)
    incidents = latest_by_incident(snapshots)
    warmup_end = case.warmup_until.timestamp()
    in_case = {i: v for i, v in incidents.items() if v[0] >= warmup_end}
    # An incident an alert opened is the user's own rule firing: only anomaly-opened ones can be false.
    result.false_incidents = sum(1 for i, v in incidents.items() if i not in in_case and _by_anomalies(v[1]))
    if label.root_cause_service is None:
        result.false_incidents = sum(1 for v in incidents.values() if _by_anomalies(v[1]))
        result.why = "fault-free reference" + (f": {result.false_incidents} incident(s) opened by anomalies"
                                               if result.false_incidents else "")
        result.others = [_describe(i, *v, "false", None) for i, v in incidents.items() if _by_anomalies(v[1])]
        return result
    result.opened = bool(in_case)
    if not in_case:
        result.why = "no incident opened after the warm-up"
        return result
    holding = {i: v for i, v in in_case.items() if label.root_cause_service in v[1]["services"]}
    pool = holding or in_case
    chosen = max(pool, key=lambda i: (_strength(pool[i][1]), -pool[i][0]))
    record = pool[chosen][1]
    result.incident = chosen
    result.other_incidents = len(in_case) - 1
    fault_at = label.fault_at.timestamp() if label.fault_at is not None else None
    result.others = [_describe(i, *v, "false" if i not in in_case else "other", fault_at)
                     for i, v in incidents.items() if i != chosen and (i in in_case or _by_anomalies(v[1]))]
    result.candidates = [c["service"] for c in record["root_cause"]["candidates"]] \
        or ([record["root_cause"]["service"]] if record["root_cause"]["service"] else [])
    result.named = record["root_cause"]["service"]
    if label.root_cause_service in result.candidates:
        result.rank = result.candidates.index(label.root_cause_service) + 1
    result.top1 = result.named == label.root_cause_service
    result.top3 = result.rank is not None and result.rank <= 3
    # Time to detect: the first snapshot after the fault began that names the cause (an unrelated alert on the
    # same service before the fault does not count as detecting it).
    first_right = [_when(r) for r in snapshots if r["root_cause"]["service"] == label.root_cause_service
                   and (fault_at is None or _when(r) >= fault_at)]
    if first_right and fault_at is not None:
        result.detect_s = round(min(first_right) - fault_at, 1)
    top = record["root_cause"]["candidates"][:1]
    result.evidence = top[0].get("evidence", []) if top else []
    if not result.top1:
        result.why = _why(label.root_cause_service, record, bool(holding))
    return result


def _describe(incident_id: str, opened: float, record: dict[str, Any], kind: str, fault_at: float | None) -> str:
    when = f", {opened - fault_at:+.0f}s from the fault" if fault_at is not None else ""
    return (f"{kind} {incident_id} (opened by {record.get('opened_by', 'alert')}{when}): names "
            f"{record['root_cause']['service']}; services {', '.join(record['services'])}")


def _why(service: str, record: dict[str, Any], holds: bool) -> str:
    if not holds:
        return f"the incident does not hold {service}: no anomaly on it was seen"
    own = [a for a in record.get("anomaly_evidence", []) if a["service"] == service]
    named = record["root_cause"]["service"]
    if not own:
        return f"{service} is in the incident without evidence of its own; {named} ranked first"
    strongest = max(own, key=lambda a: a["score"])
    return (f"{named} ranked first; {service}'s strongest evidence: {strongest['signal']} "
            f"({strongest['role']}, score {strongest['score']}): {strongest['reason'][:160]}")


def summary(results: list[CaseResult], method: str, seconds: float) -> dict[str, Any]:
    faults = [r for r in results if r.root_cause is not None]
    references = [r for r in results if r.root_cause is None]
    detected = [r.detect_s for r in faults if r.detect_s is not None and r.top1]
    return {
        "cases": len(faults),
        "opened": sum(r.opened for r in faults),
        "top1": sum(r.top1 for r in faults),
        "top3": sum(r.top3 for r in faults),
        "false_incidents": sum(r.false_incidents for r in results),
        "reference_cases": len(references),
        "median_detect_s": sorted(detected)[len(detected) // 2] if detected else None,
        "ranking": method,
        "seconds": round(seconds, 1),
        "rows": [r.to_dict() for r in results],
    }
