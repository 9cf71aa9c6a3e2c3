"""Span statistics judged against each service's baselines: what is a cause, what a symptom, and the reasons."""

from __future__ import annotations

from streams.anomaly.records import EdgeStats, OpStats, SpanStats, TemplateStats
from streams.anomaly.span_detector import SpanAnomalyDetector, SpanDetectorConfig
from tests.streams.anomaly.spans import at


def bucket(i: int, *, latency: float = 30.0, self_ms: float = 25.0, errors: int = 0, gap: float = 2.0,
           client: float = 32.0, calls: int = 10, logged: int | None = None, new: int = 0) -> SpanStats:
    logged = calls - errors if logged is None else logged
    templates = [TemplateStats(op="POST /orders", template_id="@Repo#12", template="order saved", spans=logged)]
    if new:
        templates.append(TemplateStats(op="POST /orders", template_id="@Repo#99", template="fallback used",
                                       spans=new))
    return SpanStats(
        service="orders-api", bucket_start=at(10 * i), bucket_s=10,
        ops=[OpStats(op="POST /orders", spans=calls, entries=calls, errors=errors, own_errors=errors,
                     latency_ms=[latency] * min(calls, 16), self_ms=[self_ms] * min(calls, 16),
                     slowest_trace="ab" * 16)],
        edges=[EdgeStats(caller="checkout-api", calls=calls, client_ms=[client] * min(calls, 16),
                         server_ms=[latency] * min(calls, 16), gap_ms=[gap] * min(calls, 16))],
        templates=templates)


def run(buckets) -> list:
    detector = SpanAnomalyDetector(SpanDetectorConfig(), {})
    signals = []
    for b in buckets:
        signals += detector.observe(b)
    return signals


def normal(n: int = 12) -> list[SpanStats]:
    return [bucket(i, latency=30 + i % 3, self_ms=25 + i % 2, client=32 + i % 3) for i in range(n)]


def test_steady_traffic_is_not_anomalous():
    assert run(normal(20)) == []


def test_own_time_is_a_cause_and_latency_a_symptom():
    signals = run(normal() + [bucket(12 + i, latency=300, self_ms=290, client=302) for i in range(3)])
    kinds = {(s.signal, s.role) for s in signals}
    assert ("self_time", "cause") in kinds and ("latency", "symptom") in kinds
    assert ("client_latency", "symptom") in kinds and ("network", "cause") not in kinds
    own = next(s for s in signals if s.signal == "self_time")
    assert own.service == "orders-api" and own.value == 290 and "own time" in own.reason and own.trace_ids


def test_time_on_the_wire_is_a_cause_of_the_callee_seen_from_its_caller():
    signals = run(normal() + [bucket(12 + i, gap=500, client=530) for i in range(3)])
    network = [s for s in signals if s.signal == "network"]
    assert network and network[0].peer == "checkout-api" and network[0].role == "cause"
    assert "between the caller's and the service's span" in network[0].reason
    assert not [s for s in signals if s.signal in ("self_time", "latency")]


def test_a_log_event_every_call_wrote_and_none_writes_any_more_is_a_changed_pattern():
    signals = run(normal() + [bucket(12 + i, logged=0) for i in range(6)])
    pattern = [s for s in signals if s.signal == "log_pattern"]
    assert pattern and pattern[-1].role == "cause" and pattern[-1].value == 0.0 and pattern[-1].baseline == 1.0
    assert "order saved" in pattern[-1].reason and "another path" in pattern[-1].reason


def test_a_new_log_event_on_most_calls_is_a_changed_pattern():
    signals = run(normal(30) + [bucket(30 + i, new=8) for i in range(3)])
    assert any(s.signal == "log_pattern" and "never logged before" in s.reason for s in signals)


def test_errors_need_a_learned_baseline_and_a_surprising_count():
    assert not [s for s in run([bucket(0, errors=5)]) if s.signal == "errors"]  # nothing learned yet
    signals = run(normal() + [bucket(12, errors=6)])
    errors = [s for s in signals if s.signal == "errors"]
    assert errors and errors[0].role == "cause" and "6 of 30 calls failed" in errors[0].reason  # pooled over the window


def test_baselines_survive_a_restart_through_the_state_mapping():
    state: dict = {}
    first = SpanAnomalyDetector(SpanDetectorConfig(), state)
    for b in normal():
        first.observe(b)
    second = SpanAnomalyDetector(SpanDetectorConfig(), dict(state))  # a new process, the table restored
    signals = []
    for i in range(3):
        signals += second.observe(bucket(12 + i, latency=300, self_ms=290, client=302))
    assert any(s.signal == "self_time" for s in signals)


def test_buckets_already_learned_are_too_late_to_judge():
    detector = SpanAnomalyDetector(SpanDetectorConfig(), {})
    for b in normal(12):
        detector.observe(b)
    assert detector.observe(bucket(0, latency=900, self_ms=900)) == []
