"""Template rates: steady is quiet, a surge against the baseline and a new error template are evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aiops.core.paths import PROJECT_ROOT
from aiops.core.settings import Settings
from streams.logtemplates.errors import SnapshotError
from streams.logtemplates.rates import RateConfig, TemplateRates
from streams.records import Severity

T0 = 1_750_000_000  # a bucket boundary: a multiple of 10 s and of 60 s
POOL = "timeout acquiring connection from pool (pool=orders-db, waited=<DURATION>)"


def steady(rates: TemplateRates, template_id: str, start: float, minutes: int, per_min: int,
           level: Severity = Severity.info) -> float:
    """per_min evenly spaced lines a minute for `minutes`; returns the time after the last one."""
    step = 60 / per_min
    t = start
    for i in range(minutes * per_min):
        t = start + i * step
        rates.observe(template_id, t, level, f"GET /v1/orders/{i} 200 in 8ms",
                      template="GET <PATH> <NUM> in <DURATION>")
    return t + step


def test_a_template_at_steady_rate_is_not_surging():
    rates = TemplateRates("orders-api")
    end = steady(rates, "3", T0, minutes=60, per_min=10)
    assert rates.evidence(end) == []
    assert rates.evidence() == []


def test_a_twentyfold_jump_is_a_surge_with_counts_and_examples():
    rates = TemplateRates("orders-api")
    start = steady(rates, "8", T0, minutes=60, per_min=10, level=Severity.warning)
    assert start == T0 + 3600
    for i in range(200):  # 20x the steady 10/min, all within one minute
        rates.observe("8", start + i * 0.295, "ERROR", f"timeout acquiring connection from pool (waited={5000 + i}ms)",
                      template=POOL)

    [surge] = rates.evidence(start + 59)
    assert (surge.kind, surge.service, surge.template_id, surge.template) == ("surge", "orders-api", "8", POOL)
    assert surge.count == 200 and surge.level == "error"
    assert surge.baseline_per_min == pytest.approx(10, rel=0.1)
    assert surge.reason == f"surge: 200 in the last 1 min vs baseline {surge.baseline_per_min:.1f}/min"
    assert surge.examples == ("timeout acquiring connection from pool (waited=5197ms)",
                              "timeout acquiring connection from pool (waited=5198ms)",
                              "timeout acquiring connection from pool (waited=5199ms)")
    assert surge.window_start == datetime.fromtimestamp(start, UTC)
    assert surge.to_avro() == {
        "service": "orders-api", "template_id": "8", "template": POOL, "level": "error", "count": 200,
        "baseline_per_min": surge.baseline_per_min, "reason": surge.reason, "examples": list(surge.examples)}
    # Once the surge is the past, it is part of the baseline, not evidence.
    rates.observe("8", start + 600, Severity.info, "x")
    assert rates.evidence(start + 600) == []


def test_long_history_with_a_baseline_of_about_zero_surges_once_min_count_is_met():
    rates = TemplateRates("orders-api")
    rates.observe("5", T0, Severity.warning, "disk usage 91% on /var/lib/postgresql")
    later = T0 + 3 * 3600
    for i in range(4):
        rates.observe("5", later + i, Severity.warning, f"disk usage 9{i}% on /var/lib/postgresql")
    assert rates.evidence(later + 5) == []  # 4 < surge_min_count
    rates.observe("5", later + 5, Severity.warning, "disk usage 95% on /var/lib/postgresql")
    [surge] = rates.evidence(later + 5)
    assert surge.count == 5 and surge.baseline_per_min < 0.01
    assert surge.reason.startswith("surge: 5 in the last 1 min vs baseline 0")


def test_a_new_template_at_error_level_is_reported_at_info_level_it_is_not():
    rates = TemplateRates("orders-api")
    steady(rates, "1", T0, minutes=10, per_min=6)
    now = T0 + 600
    rates.observe("9", now, Severity.error, "Failed to create order for customer 4242: CannotGetJdbcConnection",
                  template="Failed to create order for customer <NUM>: CannotGetJdbcConnection")
    rates.observe("10", now + 1, Severity.info, "cache warmed in 120ms", template="cache warmed in <DURATION>")
    rates.observe("11", now + 2, "critical", "FATAL: remaining connection slots are reserved",
                  template="FATAL: remaining connection slots are reserved")

    found = rates.evidence(now + 2)
    assert [(e.template_id, e.kind, e.level, e.count) for e in found] == [("11", "new", "critical", 1),
                                                                          ("9", "new", "error", 1)]
    assert found[1].reason == "new template at error level" and found[1].baseline_per_min is None
    assert found[1].examples == ("Failed to create order for customer 4242: CannotGetJdbcConnection",)
    assert rates.evidence(now + 2, template_ids=["10", "9", "unknown"])[0].template_id == "9"
    # A window later the template is no longer new.
    rates.observe("9", now + 120, Severity.error, "Failed to create order for customer 7: CannotGetJdbcConnection")
    assert [e.template_id for e in rates.evidence(now + 120)] == []


def test_state_round_trips_through_json():
    rates = TemplateRates("orders-api")
    start = steady(rates, "8", T0, minutes=30, per_min=10)
    for i in range(120):
        rates.observe("8", start + i * 0.4, Severity.error, f"timeout after {i}ms", template=POOL)
    rates.observe("9", start + 50, Severity.error, "FATAL: too many clients already", template="FATAL: <*>")

    state = json.loads(json.dumps(rates.to_dict()))
    restored = TemplateRates.from_dict(state)

    assert restored.to_dict() == rates.to_dict()
    assert restored.evidence(start + 55) == rates.evidence(start + 55)
    assert [e.kind for e in restored.evidence(start + 55)] == ["surge", "new"]
    # One template's state alone (for a table keyed by service and template) restores the same way.
    alone = TemplateRates.from_dict({"service": "orders-api", "templates": {"9": rates.template_state("9")}})
    assert alone.evidence(start + 55)[0].template_id == "9"
    with pytest.raises(SnapshotError):
        TemplateRates.from_dict({"version": 1, "templates": {"1": {"first_seen": "soon"}}})


def test_memory_is_bounded():
    rates = TemplateRates("orders-api", RateConfig(max_templates=3, forget_after_s=3600, max_examples=2))
    for tid in ["1", "2", "3", "4"]:
        for i in range(50):
            rates.observe(tid, T0 + int(tid) + i * 0.01, Severity.info, f"line {tid} {i}")
    assert len(rates) == 3 and "1" not in rates  # least recently seen went first
    assert all(len(rates.template_state(t)["examples"]) == 2 for t in ["2", "3", "4"])
    assert all(len(rates.template_state(t)["buckets"]) <= 6 for t in ["2", "3", "4"])
    rates.observe("4", T0 + 2 * 3600, Severity.info, "still here")
    assert list(rates.to_dict()["templates"]) == ["4"]
    assert sorted(rates.pop_forgotten()) == ["1", "2", "3"] and rates.pop_forgotten() == []


def test_rate_config_from_settings(monkeypatch):
    monkeypatch.setenv("AIOPS_LOG_RATE_WINDOW_S", "300")
    monkeypatch.setenv("AIOPS_LOG_RATE_SURGE_FACTOR", "3")
    config = RateConfig.from_settings(Settings())
    assert (config.window_s, config.window_buckets, config.surge_factor, config.max_examples) == (300, 30, 3.0, 3)
    with pytest.raises(ValueError, match="multiple"):
        RateConfig(bucket_s=7, window_s=60)


def test_evidence_matches_the_incident_contract():
    schema = json.loads((PROJECT_ROOT / "schemas" / "incident.avsc").read_text())
    [field] = [f for f in schema["fields"] if f["name"] == "log_evidence"]
    rates = TemplateRates("orders-api")
    rates.observe("1", T0, Severity.error, "boom", template="boom")
    assert list(rates.evidence()[0].to_avro()) == [f["name"] for f in field["type"]["items"]["fields"]]
