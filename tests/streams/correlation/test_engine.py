"""The correlation engine on plain dict tables: grouping, dedup, lifecycle, lateness, root cause."""

from __future__ import annotations

from streams.correlation.engine import CorrelationConfig, Correlator, Tables
from streams.correlation.errors import LateEventError
from streams.correlation.outputs import Rejected, Snapshot, Tombstone
from streams.correlation.signals import AlertSignal, TickSignal
from tests.streams.correlation.builders import CASCADE_EDGES, alert, at, cascade, edges, error_span, log_surge

CONFIG = CorrelationConfig(allowed_lateness_s=120, group_gap_s=300, quiet_period_s=60, snapshot_interval_s=5)


def run(signals, config=CONFIG, tables=None, now=1000.0):
    correlator = Correlator(config, tables or Tables())
    outputs = []
    for signal in signals:
        outputs += correlator.handle(signal, now)
        now += 1
    outputs += correlator.handle(TickSignal(now=now + 10), now + 10)
    return correlator, outputs


def latest(outputs) -> dict[str, dict]:
    snapshots: dict[str, dict] = {}
    for out in outputs:
        if isinstance(out, Snapshot):
            snapshots[out.incident_id] = out.record
        elif isinstance(out, Tombstone):
            snapshots.pop(out.incident_id, None)
    return snapshots


def test_cascade_is_one_incident_with_the_database_as_root_cause():
    _, outputs = run(cascade())
    incidents = latest(outputs)
    assert len(incidents) == 1
    incident = next(iter(incidents.values()))
    assert incident["services"] == ["orders-api", "orders-db", "web-frontend"]
    assert incident["root_cause"]["service"] == "orders-db"
    assert "deepest failing service" in incident["root_cause"]["reason"]
    assert "web-frontend → orders-api → orders-db" in incident["root_cause"]["reason"]
    assert {a["service"] for a in incident["alerts"]} == {"orders-db", "orders-api", "web-frontend"}
    assert {e["service"] for e in incident["log_evidence"]} == {"orders-db", "orders-api"}
    assert {s["service"] for s in incident["span_evidence"]} == {"orders-api", "web-frontend"}
    assert incident["span_evidence"][0]["trace_id"] == f"{0xABC:032x}"


def test_cascade_in_reverse_arrival_order_still_one_incident():
    signals = cascade()
    alerts = [s for s in signals if isinstance(s, AlertSignal)]
    others = [s for s in signals if not isinstance(s, AlertSignal)]
    _, outputs = run(others + list(reversed(alerts)))
    incidents = latest(outputs)
    assert len(incidents) == 1
    assert next(iter(incidents.values()))["root_cause"]["service"] == "orders-db"


def test_two_unrelated_failures_are_two_incidents():
    signals = [*edges(CASCADE_EDGES),
               AlertSignal(alert=alert("PostgresConnectionsNearLimit", "orders-db", 10)),
               AlertSignal(alert=alert("DiskAlmostFull", "inventory-db", 12)),
               AlertSignal(alert=alert("QueueBacklog", "notification-worker", 15))]
    _, outputs = run(signals)
    incidents = latest(outputs)
    assert len(incidents) == 3
    assert sorted(i["services"][0] for i in incidents.values()) == ["inventory-db", "notification-worker",
                                                                    "orders-db"]


def test_flapping_alert_stays_one_incident():
    signals = []
    for cycle in range(20):
        signals.append(AlertSignal(alert=alert("CpuHigh", "search-api", 0)))
        signals.append(AlertSignal(alert=alert("CpuHigh", "search-api", 0, status="resolved", end=cycle * 10 + 5)))
    _, outputs = run(signals)
    ids = {o.incident_id for o in outputs if isinstance(o, Snapshot)}
    assert len(ids) == 1


def test_repeats_and_replays_do_not_create_new_incidents():
    tables = Tables()
    _, first = run(cascade(), tables=tables)
    _, again = run(cascade(), tables=tables, now=1100.0)  # the same signals replayed after a crash
    assert len({o.incident_id for o in first + again if isinstance(o, Snapshot)}) == 1


def test_late_event_inside_lateness_joins_and_beyond_is_reported():
    signals = [*edges(CASCADE_EDGES),
               AlertSignal(alert=alert("PostgresConnectionsNearLimit", "orders-db", 200)),
               # out of order by 100 s: within the 120 s lateness → joins the incident
               AlertSignal(alert=alert("OrdersApiHigh5xxRate", "orders-api", 100)),
               log_surge("orders-api", "timeout acquiring connection from pool after <NUM>ms", 400),
               # 400 s behind the latest event: beyond lateness → reported, not dropped silently
               AlertSignal(alert=alert("FrontendErrorRateHigh", "web-frontend", 0))]
    correlator, outputs = run(signals)
    incidents = latest(outputs)
    assert len(incidents) == 1
    assert next(iter(incidents.values()))["services"] == ["orders-api", "orders-db"]
    late = [o for o in outputs if isinstance(o, Rejected)]
    assert len(late) == 1 and isinstance(late[0].error, LateEventError) and "allowed lateness is 120s" in late[0].reason
    assert correlator.late_events == 1


def test_incident_resolves_after_all_alerts_resolved_and_quiet_period():
    correlator = Correlator(CONFIG, Tables())
    out = correlator.handle(AlertSignal(alert=alert("CpuHigh", "search-api", 0)), 1000.0)
    out += correlator.handle(AlertSignal(alert=alert("CpuHigh", "search-api", 0, status="resolved", end=30)), 1010.0)
    out += correlator.handle(TickSignal(now=1030.0), 1030.0)  # quiet for 20 s only
    assert [o.record["status"] for o in out if isinstance(o, Snapshot)][-1] != "resolved"
    out += correlator.handle(TickSignal(now=1075.0), 1075.0)
    assert [o.record["status"] for o in out if isinstance(o, Snapshot)][-1] == "resolved"


def test_updates_are_rate_limited():
    correlator = Correlator(CONFIG, Tables())
    outputs = correlator.handle(AlertSignal(alert=alert("PostgresConnectionsNearLimit", "orders-db", 0)), 1000.0)
    for i in range(10):  # ten pieces of evidence within one second
        outputs += correlator.handle(error_span("orders-db", "query", 1, 7, 100 + i), 1000.0 + i / 10)
    assert len([o for o in outputs if isinstance(o, Snapshot)]) == 1
    outputs += correlator.handle(TickSignal(now=1006.0), 1006.0)
    snapshots = [o for o in outputs if isinstance(o, Snapshot)]
    assert len(snapshots) == 2 and snapshots[-1].record["status"] == "updated"
    assert len(snapshots[-1].record["span_evidence"]) == 10


def test_trace_id_joins_an_unrelated_service_into_the_incident():
    trace = 0x77
    signals = [AlertSignal(alert=alert("PaymentsLatency", "payments-api", 0, trace_id=f"{trace:032x}")),
               error_span("acmepay-proxy", "POST /charge", 5, trace, 9)]
    _, outputs = run(signals)
    incident = next(iter(latest(outputs).values()))
    assert "acmepay-proxy" in incident["services"]


def test_resolve_for_unknown_alert_is_rejected_with_reason():
    _, outputs = run([AlertSignal(alert=alert("Ghost", "x", 0, status="resolved", end=5))])
    rejected = [o for o in outputs if isinstance(o, Rejected)]
    assert rejected and "never seen firing" in rejected[0].reason


def test_incidents_that_turn_out_connected_are_merged():
    # Two alerts arrive before the graph links their services; a third service connects both.
    signals = [AlertSignal(alert=alert("A", "svc-a", 0)), AlertSignal(alert=alert("C", "svc-c", 1)),
               *edges([("svc-a", "svc-b"), ("svc-b", "svc-c")], when=2),
               AlertSignal(alert=alert("B", "svc-b", 3))]
    _, outputs = run(signals)
    assert len(latest(outputs)) == 1
    assert any(isinstance(o, Tombstone) for o in outputs)
    assert sorted(next(iter(latest(outputs).values()))["services"]) == ["svc-a", "svc-b", "svc-c"]


def test_snapshot_is_valid_avro():
    from aiops.core.avro import SchemaSet, SingleObjectCodec
    from aiops.core.paths import PROJECT_ROOT

    _, outputs = run(cascade())
    codec = SingleObjectCodec(SchemaSet.load(PROJECT_ROOT / "schemas")["Incident"])
    for out in outputs:
        if isinstance(out, Snapshot):
            assert codec.decode(codec.encode(out.record))["id"] == out.incident_id
    assert at(0).tzinfo is not None


def test_edges_learned_after_the_alerts_merge_the_incidents():
    signals = [AlertSignal(alert=alert("PostgresConnectionsNearLimit", "orders-db", 10)),
               AlertSignal(alert=alert("OrdersApiHigh5xxRate", "orders-api", 20)),
               AlertSignal(alert=alert("FrontendErrorRateHigh", "web-frontend", 30)),
               *edges(CASCADE_EDGES, when=35)]
    _, outputs = run(signals)
    incidents = latest(outputs)
    assert len(incidents) == 1
    incident = next(iter(incidents.values()))
    assert incident["services"] == ["orders-api", "orders-db", "web-frontend"]
    assert incident["root_cause"]["service"] == "orders-db"
