"""Span profiling: dependency edges from parent/child and peer attributes, error and slow spans."""

from __future__ import annotations

from datetime import timedelta

from streams.correlation.spans import SpanProfileConfig, SpanProfiler
from streams.records import Span
from tests.streams.correlation.builders import at


def span(trace: int, span_id: int, service: str, name: str, kind: str = "server", parent: int | None = None,
         ms: float = 20.0, status: str = "ok", peer: str | None = None, when: float = 0.0) -> Span:
    return Span(trace_id=f"{trace:032x}", span_id=f"{span_id:016x}",
                parent_span_id=f"{parent:016x}" if parent else None, service=service, name=name, kind=kind,
                start_time=at(when), end_time=at(when) + timedelta(milliseconds=ms), duration_ms=ms,
                status=status, peer_service=peer)


def test_edges_from_parent_child_in_any_arrival_order_and_from_peer_service():
    profiler = SpanProfiler(SpanProfileConfig(), {})
    # the child (orders-api server span) is exported before its parent (web-frontend client span)
    profiler.observe(span(1, 2, "orders-api", "GET /orders", parent=1))
    profiler.observe(span(1, 1, "web-frontend", "GET orders", kind="client"))
    profiler.observe(span(1, 3, "orders-api", "SELECT", kind="client", parent=2, peer="orders-db"))
    edges = {(e.caller, e.callee): e.calls for e in profiler.drain_edges()}
    assert edges == {("web-frontend", "orders-api"): 1, ("orders-api", "orders-db"): 1}
    assert profiler.drain_edges() == []


def test_error_spans_and_slow_spans_against_the_operation_baseline():
    baselines: dict = {}
    profiler = SpanProfiler(SpanProfileConfig(min_samples=20), baselines)
    for i in range(30):
        assert profiler.observe(span(10 + i, 1, "orders-api", "GET /orders", ms=40)) == []
    slow = profiler.observe(span(99, 1, "orders-api", "GET /orders", ms=2000))
    assert [s.evidence for s in slow] == ["slow"] and slow[0].baseline_ms == 40
    error = profiler.observe(span(100, 1, "orders-api", "GET /orders", ms=30, status="error"))
    assert [s.evidence for s in error] == ["error"]
    assert baselines["orders-api|GET /orders"]["n"] == 31  # the error did not move the baseline
