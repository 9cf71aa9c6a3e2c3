"""Incidents that open from anomalies without an alert, join alerts, age out and go quiet in event time."""

from __future__ import annotations

from streams.correlation.anomalies import AnomalyConfig
from streams.correlation.engine import CorrelationConfig, Tables
from streams.correlation.outputs import Snapshot
from streams.correlation.signals import AlertSignal, TickSignal
from tests.streams.correlation.anomalies import anomaly, persisting
from tests.streams.correlation.builders import SHOP_EDGES, alert, edges
from tests.streams.correlation.test_engine import latest
from tests.streams.correlation.test_engine import run as run_with

CONFIG = CorrelationConfig(allowed_lateness_s=120, group_gap_s=300, quiet_period_s=60, snapshot_interval_s=5,
                           anomalies=AnomalyConfig(open_score=8.0, min_evidence=2, window_s=90, hops=1))


def run(signals, tables=None, wall=1000.0):
    return run_with(signals, config=CONFIG, tables=tables, now=wall)


def test_persisting_anomalies_open_an_incident_without_any_alert():
    _, outputs = run([*edges(SHOP_EDGES), *persisting("payments-api", "self_time", 10, windows=3, score=8.5)])
    incidents = latest(outputs)
    assert len(incidents) == 1
    incident = next(iter(incidents.values()))
    assert incident["opened_by"] == "anomalies" and incident["alerts"] == []
    assert incident["services"] == ["payments-api"] and incident["root_cause"]["service"] == "payments-api"
    evidence = incident["anomaly_evidence"][0]
    assert evidence["signal"] == "self_time" and evidence["reason"] and evidence["score"] == 8.5


def test_one_odd_reading_opens_nothing():
    _, outputs = run([*edges(SHOP_EDGES), anomaly("payments-api", "self_time", 10, score=9.5)])
    assert latest(outputs) == {}


def test_weak_evidence_opens_nothing():
    _, outputs = run([*edges(SHOP_EDGES), *persisting("search-api", "latency", 10, role="symptom", score=9.0),
                      *persisting("search-api", "self_time", 10, score=3.0)])
    assert latest(outputs) == {}  # a symptom counts half: 4.5 + 3 is below 8, however long it persists


def test_connected_services_add_up_and_grow_the_incident():
    signals = [*edges(SHOP_EDGES),
               anomaly("orders-api", "network", 10, score=5.0, peer="checkout-api"),
               anomaly("checkout-api", "client_latency", 11, score=6.0, role="symptom", peer="api-gateway"),
               anomaly("orders-api", "network", 20, score=5.0, peer="checkout-api"),
               anomaly("api-gateway", "latency", 25, score=4.0, role="symptom")]
    _, outputs = run(signals)
    incidents = latest(outputs)
    assert len(incidents) == 1
    incident = next(iter(incidents.values()))
    assert incident["services"] == ["api-gateway", "checkout-api", "orders-api"]
    assert incident["root_cause"]["service"] == "orders-api"


def test_an_alert_joins_the_incident_anomalies_opened():
    signals = [*edges(SHOP_EDGES), *persisting("payments-api", "self_time", 10, windows=3),
               AlertSignal(alert=alert("PaymentsLatencyHigh", "payments-api", 35))]
    _, outputs = run(signals)
    incidents = latest(outputs)
    assert len(incidents) == 1
    incident = next(iter(incidents.values()))
    assert incident["opened_by"] == "anomalies" and [a["name"] for a in incident["alerts"]] == ["PaymentsLatencyHigh"]


def test_a_new_fault_after_an_old_incident_went_quiet_opens_a_new_incident():
    old = [AlertSignal(alert=alert("SearchLatencyHigh", "search-api", 0)),
           AlertSignal(alert=alert("SearchLatencyHigh", "search-api", 0, status="resolved", end=20))]
    new = persisting("checkout-api", "self_time", 40, windows=3)  # connected to search-api via api-gateway
    _, outputs = run([*edges(SHOP_EDGES), *old, *new])
    incidents = latest(outputs)
    assert len(incidents) == 2
    fresh = next(i for i in incidents.values() if i["opened_by"] == "anomalies")
    assert fresh["services"] == ["checkout-api"] and fresh["root_cause"]["service"] == "checkout-api"


def test_anomaly_evidence_ages_out_in_event_time():
    early = persisting("payments-api", "self_time", 0, windows=1, score=5.0)
    late = persisting("payments-api", "self_time", 200, windows=1, score=5.0)  # 200 s later: the first aged out
    _, outputs = run([*edges(SHOP_EDGES), *early, *late])
    assert latest(outputs) == {}


def test_an_anomaly_incident_resolves_after_its_quiet_period_in_event_time():
    correlator, outputs = run([*edges(SHOP_EDGES), *persisting("payments-api", "self_time", 10, windows=3)])
    assert len(latest(outputs)) == 1
    # No new event arrives: the event clock moves on with the wall clock; 60 s quiet resolves it.
    later = correlator.handle(TickSignal(now=0), 1000.0 + 30)
    assert not [o for o in later if isinstance(o, Snapshot) and o.record["status"] == "resolved"]
    later = correlator.handle(TickSignal(now=0), 1000.0 + 120)
    assert [o.record["status"] for o in later if isinstance(o, Snapshot)] == ["resolved"]


def test_replayed_anomalies_make_the_same_incident():
    signals = [*edges(SHOP_EDGES), *persisting("payments-api", "self_time", 10, windows=3)]
    tables = Tables()
    _, first = run(signals, tables)
    _, again = run(signals, tables, wall=1100.0)
    assert len({o.incident_id for o in first + again if isinstance(o, Snapshot)}) == 1
