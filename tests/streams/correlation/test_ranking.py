"""Ranking root causes across the call graph: blame propagation and the random walk, with checkable reasons."""

from __future__ import annotations

from streams.correlation.engine import CorrelationConfig, Correlator, Tables
from streams.correlation.ranking import RankingConfig
from streams.correlation.signals import AlertSignal, TickSignal
from tests.streams.correlation.anomalies import anomaly, persisting
from tests.streams.correlation.builders import SHOP_EDGES, alert, at, cascade, edges
from tests.streams.correlation.test_engine import latest


def ranked(signals, method: str = "blame") -> dict:
    correlator = Correlator(CorrelationConfig(ranking=RankingConfig(method=method)), Tables())
    outputs = []
    for i, signal in enumerate(signals):
        outputs += correlator.handle(signal, 1000.0 + i / 10)
    outputs += correlator.handle(TickSignal(now=0), 1100.0)
    incidents = latest(outputs)
    assert len(incidents) == 1, incidents
    return next(iter(incidents.values()))["root_cause"]


def slow_callee(method: str = "blame") -> dict:
    """orders-api's network is slow: its callers see it, and their own latency follows."""
    signals = [*edges(SHOP_EDGES)]
    for i in range(6):
        t = 10 + 10 * i
        signals += [anomaly("orders-api", "network", t, score=9.0, peer="checkout-api", value=900, baseline=2,
                            unit="ms"),
                    anomaly("orders-api", "client_latency", t, score=9.0, role="symptom", peer="checkout-api",
                            value=930, baseline=30, unit="ms"),
                    anomaly("checkout-api", "latency", t, score=9.0, role="symptom", value=960, baseline=60,
                            unit="ms"),
                    anomaly("checkout-api", "client_latency", t, score=9.0, role="symptom", peer="api-gateway",
                            value=965, baseline=65, unit="ms"),
                    anomaly("api-gateway", "latency", t, score=8.0, role="symptom", value=990, baseline=90,
                            unit="ms")]
    return ranked(signals, method)


def test_the_callee_that_explains_its_callers_latency_ranks_first():
    for method in ("blame", "walk"):
        root = slow_callee(method)
        assert root["service"] == "orders-api", (method, root)
        top = root["candidates"][0]
        assert top["evidence"] and "network" in top["evidence"][0]
        if method == "blame":
            assert "explains symptoms of" in top["reason"] and "checkout-api" in top["reason"]


def test_a_faint_anomaly_below_loud_symptoms_does_not_take_the_blame():
    signals = [*edges(SHOP_EDGES)]
    for i in range(6):
        t = 10 + 10 * i
        signals += [anomaly("payments-api", "log_pattern", t, score=10.0),
                    anomaly("checkout-api", "latency", t, score=9.0, role="symptom", value=500, baseline=60,
                            unit="ms")]
    signals += [anomaly("orders-api", "self_time", 15, score=2.0, value=30, baseline=10, unit="ms"),
                anomaly("orders-api", "client_latency", 15, score=3.0, role="symptom", peer="checkout-api")]
    root = ranked(signals)
    assert root["service"] == "payments-api"


def test_time_on_the_wire_goes_to_the_end_that_takes_part_in_more_such_calls():
    """A delay on checkout-api's network: calls in and out of it are slow; every callee is seen slow only by it."""
    signals = [*edges(SHOP_EDGES)]
    for i in range(6):
        t = 10 + 10 * i
        signals += [anomaly("checkout-api", "network", t, score=8.0, peer="api-gateway", value=400, baseline=2,
                            unit="ms"),
                    anomaly("orders-api", "network", t, score=8.0, peer="checkout-api", value=400, baseline=2,
                            unit="ms", subject="checkout-api"),
                    anomaly("payments-api", "network", t, score=8.0, peer="checkout-api", value=400, baseline=2,
                            unit="ms", subject="checkout-api")]
    root = ranked(signals)
    assert root["service"] == "checkout-api"
    assert any("takes part in more calls with time on the wire" in line for line in root["candidates"][0]["evidence"])


def test_only_firing_alerts_count():
    # Both alert in one incident; payments-api alerted first (it would win the tie), then its alert resolved.
    signals = [*edges(SHOP_EDGES),
               AlertSignal(alert=alert("PaymentsErrors", "payments-api", 0)),
               AlertSignal(alert=alert("OrdersErrors", "orders-api", 10)),
               AlertSignal(alert=alert("PaymentsErrors", "payments-api", 0, status="resolved", end=20))]
    correlator = Correlator(CorrelationConfig(), Tables())
    outputs = []
    for i, signal in enumerate(signals):
        outputs += correlator.handle(signal, 1000.0 + i)
    incident = next(i for i in latest(outputs).values() if len(i["alerts"]) == 2)
    assert incident["root_cause"]["service"] == "orders-api"


def test_without_anomalies_the_deepest_failing_service_rule_still_names_the_database():
    root = ranked(cascade())
    assert root["service"] == "orders-db" and "deepest failing service" in root["reason"]


def test_persistent_evidence_outweighs_a_passing_burst():
    signals = [*edges(SHOP_EDGES), *persisting("orders-api", "log_pattern", 10, windows=6, score=8.0),
               *persisting("payments-api", "log_pattern", 10, windows=1, score=10.0),
               *persisting("checkout-api", "latency", 10, windows=6, role="symptom", score=5.0)]
    assert ranked(signals)["service"] == "orders-api"


def in_time_order(signals: list) -> list:
    """Edges first, then the anomalies as the stages would emit them: in event-time order."""
    return sorted(signals, key=lambda s: getattr(s, "event_time", None) or at(0))


def test_a_condition_that_eased_counts_less_than_one_still_at_its_worst():
    """orders-api's own time was far off at first and has nearly recovered (a condition older than the fault);
    payments-api's log pattern is as strong as ever."""
    signals = [*edges(SHOP_EDGES), anomaly("orders-api", "self_time", 10, score=10.0),
               *persisting("orders-api", "self_time", 20, windows=5, score=2.0),
               *persisting("payments-api", "log_pattern", 10, windows=6, score=6.0),
               *persisting("checkout-api", "latency", 10, windows=6, role="symptom", score=4.0)]
    root = ranked(in_time_order(signals))
    assert root["service"] == "payments-api", root
    # At its worst all along, orders-api's own time would rank first: it is the easing that decides.
    at_worst = [*edges(SHOP_EDGES), *persisting("orders-api", "self_time", 10, windows=6, score=10.0),
                *persisting("payments-api", "log_pattern", 10, windows=6, score=6.0),
                *persisting("checkout-api", "latency", 10, windows=6, role="symptom", score=4.0)]
    assert ranked(in_time_order(at_worst))["service"] == "orders-api"


def test_evidence_gone_for_minutes_counts_less_than_what_shows_now():
    """orders-api's log pattern stopped three minutes before payments-api's began: an earlier episode."""
    signals = [*edges(SHOP_EDGES), *persisting("orders-api", "log_pattern", 10, windows=6, score=9.0),
               *persisting("checkout-api", "latency", 10, windows=30, role="symptom", score=4.0),
               *persisting("payments-api", "log_pattern", 250, windows=6, score=6.0)]
    root = ranked(in_time_order(signals))
    assert root["service"] == "payments-api", root
    orders = next(c for c in root["candidates"] if c["service"] == "orders-api")
    assert orders["score"] < root["candidates"][0]["score"] / 2


def test_a_caller_with_its_own_cpu_saturated_keeps_the_blame_for_its_own_symptoms():
    """checkout-api's CPU is saturated and its requests slow; orders-api below it is a little slow on its own.
    A callee with cause evidence takes a share of a caller's symptoms, but the caller's own measured
    misbehaviour explains them too; an error-level log pattern in the caller would not (callers log their
    callees' failures)."""
    def story(caller_signal: str) -> list:
        return [*edges(SHOP_EDGES), *persisting("checkout-api", caller_signal, 10, windows=6, score=8.0),
                *persisting("checkout-api", "latency", 10, windows=6, role="symptom", score=9.0),
                *persisting("orders-api", "self_time", 10, windows=6, score=6.0),
                *persisting("orders-api", "client_latency", 10, windows=6, role="symptom", peer="checkout-api",
                            score=9.0)]

    root = ranked(in_time_order(story("metric")))
    assert root["service"] == "checkout-api", root
    assert "explains symptoms of" not in root["candidates"][0]["reason"]  # its own are not "of" another
    assert ranked(in_time_order(story("log_pattern")))["service"] == "orders-api"
