"""Scoring a case from incident snapshots: which incident is the case's, top-k, time to detect, false incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiops.eval.cases import Case, Label
from aiops.eval.score import score_case, summary

T0 = datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC)


def snapshot(incident: str, version: int, at: float, services: list[str], ranked: list[str],
             opened_by: str = "anomalies", score: float = 5.0) -> dict:
    return {"id": incident, "version": version, "updated_at": T0 + timedelta(seconds=at), "services": services,
            "opened_by": opened_by, "alerts": [],
            "anomaly_evidence": [{"service": ranked[0], "signal": "network", "role": "cause", "score": score,
                                  "reason": "slow calls"}] if ranked else [],
            "root_cause": {"service": ranked[0] if ranked else None, "reason": "r",
                           "candidates": [{"service": s, "score": 1.0, "reason": "r", "evidence": ["e"]}
                                          for s in ranked]}}


def case(root: str | None = "tax") -> Case:
    return Case("c", Label(root, "exception", T0 + timedelta(seconds=100) if root else None), T0, [],
                warmup_until=T0 + timedelta(seconds=60))


def test_the_incident_holding_the_faulty_service_is_scored():
    snaps = [snapshot("noise", 1, 80, ["cart"], ["cart"], score=9.0),
             snapshot("fault", 1, 110, ["cart", "tax"], ["cart", "tax"]),
             snapshot("fault", 2, 130, ["cart", "tax"], ["tax", "cart"])]
    result = score_case(case(), snaps)
    assert result.opened and result.incident == "fault" and result.top1 and result.rank == 1
    assert result.detect_s == 30.0 and result.other_incidents == 1 and result.false_incidents == 0
    assert result.others == ["other noise (opened by anomalies, -20s from the fault): names cart; services cart"]


def test_time_to_detect_ignores_an_unrelated_incident_naming_the_service_before_the_fault():
    snaps = [snapshot("earlier", 1, 70, ["tax"], ["tax"], opened_by="alert"),
             snapshot("fault", 1, 125, ["cart", "tax"], ["tax", "cart"])]
    assert score_case(case(), snaps).detect_s == 25.0


def test_top3_miss_and_the_reason_for_it():
    snaps = [snapshot("fault", 1, 110, ["cart", "tax", "db"], ["cart", "db", "tax"])]
    result = score_case(case(), snaps)
    assert (result.top1, result.top3, result.rank) == (False, True, 3)
    assert "cart ranked first" in result.why


def test_incidents_anomalies_opened_in_the_warm_up_are_false_but_alert_ones_are_not():
    snaps = [snapshot("warm", 1, 30, ["cart"], ["cart"]), snapshot("alerted", 1, 40, ["x"], ["x"], opened_by="alert")]
    result = score_case(case(), snaps)
    assert result.false_incidents == 1 and not result.opened and "no incident opened" in result.why


def test_a_fault_free_case_counts_every_anomaly_incident_as_false():
    result = score_case(case(None), [snapshot("x", 1, 90, ["cart"], ["cart"])])
    assert result.false_incidents == 1 and result.root_cause is None
    report = summary([result, score_case(case(), [snapshot("f", 1, 110, ["tax"], ["tax"])])], "blame", 1.0)
    assert (report["cases"], report["opened"], report["top1"], report["top3"]) == (1, 1, 1, 1)
    assert report["false_incidents"] == 1 and report["reference_cases"] == 1 and len(report["rows"]) == 2
