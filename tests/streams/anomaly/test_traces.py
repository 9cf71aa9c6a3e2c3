"""The trace stage: client and server sides, own time, errors, log events per request, buckets that wait."""

from __future__ import annotations

from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
from streams.records import Severity, SpanKind
from tests.streams.anomaly.spans import line, request, span


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def condenser(clock: Clock, **overrides) -> TraceCondenser:
    return TraceCondenser(TraceCondenserConfig(bucket_s=10, trace_idle_s=2, wall_idle_s=0.5, close_grace_s=5,
                                               **overrides), wall=clock)


def feed(stage: TraceCondenser, clock: Clock, spans, events=()) -> None:
    for s in spans:
        stage.add_span(s)
    for e in events:
        stage.add_log(e)


def finish(stage: TraceCondenser, clock: Clock):
    clock.now += 100
    return stage.flush()


def by_service(stats):
    return {s.service: s for s in stats}


def test_without_kinds_a_cross_service_child_is_a_call_timed_from_both_sides():
    clock = Clock()
    stage = condenser(clock)
    spans = request(1, 1.0, gap_ms=40.0, orders_ms=30.0, db_ms=5.0)
    feed(stage, clock, spans)
    stats = by_service(finish(stage, clock))
    edge = stats["orders-api"].edges[0]
    assert edge.caller == "gateway" and edge.calls == 1
    assert edge.client_ms == [70.0] and edge.server_ms == [30.0] and edge.gap_ms == [40.0]
    orders = {op.op: op for op in stats["orders-api"].ops}
    assert orders["POST /orders"].entries == 1 and orders["SELECT orders"].entries == 0
    # Its own time includes its database span (a span of its own), the gateway's excludes the call out.
    assert orders["POST /orders"].self_ms == [30.0]
    gateway = {op.op: op for op in stats["gateway"].ops}
    assert gateway["/*"].self_ms == [0.0]  # the call (70 ms) outlasts the root span (50 ms): clipped at zero
    assert [(e.caller, e.callee) for e in stage.drain_edges()] == [("gateway", "orders-api")]


def test_own_failures_are_told_apart_from_inherited_ones():
    clock = Clock()
    stage = condenser(clock)
    feed(stage, clock, request(1, 1.0, orders_error=True) + request(2, 2.0))
    stats = by_service(finish(stage, clock))
    orders = {op.op: op for op in stats["orders-api"].ops}["POST /orders"]
    gateway = {op.op: op for op in stats["gateway"].ops}["/*"]
    assert (orders.errors, orders.own_errors) == (1, 1)
    assert (gateway.errors, gateway.own_errors) == (0, 0)  # the gateway's own spans carry no error
    assert stats["orders-api"].edges[0].errors == 1
    assert [s.service for s in stage.drain_errors()] == ["orders-api"]


def test_an_error_level_line_marks_its_span_failed():
    clock = Clock()
    stage = condenser(clock)
    spans = request(1, 1.0)
    feed(stage, clock, spans, [line(spans[3], "Repo#9", "connection reset", Severity.error)])
    orders = {op.op: op for op in by_service(finish(stage, clock))["orders-api"].ops}["POST /orders"]
    assert orders.errors == 1 and orders.own_errors == 1


def test_log_events_count_once_per_successful_request_under_its_entry_operation():
    clock = Clock()
    stage = condenser(clock)
    ok = request(1, 1.0)
    failed = request(2, 2.0, orders_error=True)
    events = [line(ok[3], "Repo#12"), line(ok[3], "Repo#12"), line(ok[2], "Ctl#40"),
              line(failed[2], "Ctl#40")]
    feed(stage, clock, ok + failed, events)
    templates = {(t.op, t.template_id): t.spans for t in by_service(finish(stage, clock))["orders-api"].templates}
    assert templates == {("POST /orders", "@Repo#12"): 1, ("POST /orders", "@Ctl#40"): 1}


def test_buckets_wait_for_log_lines_that_are_behind_the_spans():
    clock = Clock()
    stage = condenser(clock)
    early = request(1, 1.0)
    feed(stage, clock, early, [line(early[2], "Ctl#40")])
    feed(stage, clock, request(2, 40.0))  # spans run 39 s ahead; the log lines have only reached t=1
    clock.now = 5.0
    assert stage.poll() == []  # the first bucket must not close before the lines of its requests are in
    stage.add_log(line(request(3, 39.0)[2], "Ctl#40"))  # now lines have come as far as t=39
    clock.now = 6.0
    closed = stage.poll()
    assert {s.bucket_start.second for s in closed} == {0} and all(s.logs_settled for s in closed)


def test_a_line_that_comes_after_its_trace_was_read_still_counts():
    clock = Clock()
    stage = condenser(clock)
    spans = request(1, 1.0)
    feed(stage, clock, spans, [line(spans[2], "Ctl#1")])
    feed(stage, clock, request(2, 4.0), [line(request(9, 4.0)[2], "Ctl#1")])
    clock.now = 2.0
    stage.poll()  # trace 1 is read (idle long enough); its bucket stays open
    assert "00000000000000000000000000000001" not in stage.traces
    stage.add_log(line(spans[3], "Repo#12"))
    stats = by_service(finish(stage, clock))
    templates = {t.template_id: t.spans for t in stats["orders-api"].templates if t.op == "POST /orders"}
    assert templates["@Repo#12"] == 1


def test_a_client_span_to_a_peer_without_spans_is_a_call_into_that_peer():
    clock = Clock()
    stage = condenser(clock)
    root = span(7, "orders-api", "POST /orders", 1.0, 40.0, kind=SpanKind.server)
    db = span(7, "orders-api", "query orders-db", 1.001, 30.0, root, kind=SpanKind.client, peer="orders-db")
    feed(stage, clock, [root, db])
    stats = by_service(finish(stage, clock))
    edge = stats["orders-db"].edges[0]
    assert edge.caller == "orders-api" and edge.client_ms == [30.0] and edge.server_ms == []
    assert {op.op: op for op in stats["orders-api"].ops}["POST /orders"].self_ms == [10.0]


def test_a_trace_waits_for_its_lines_however_long_they_lag_while_input_still_comes():
    clock = Clock()
    stage = condenser(clock)
    first = request(1, 1.0)
    stage.add_log(line(first[2], "Ctl#40"))  # lines have reached t=1
    feed(stage, clock, first)
    for i in range(30):  # spans keep coming for 30 s of wall time; the failing request's error line lags
        clock.now += 1.0
        feed(stage, clock, request(100 + i, 2.0 + i))
        stage.poll()
    assert "0" * 31 + "1" in stage.traces  # still open: its lines have not come
    stage.add_log(line(first[3], "Repo#9", "connection reset", Severity.error))
    stage.add_log(line(request(999, 40.0)[2], "Ctl#40"))  # lines catch up past it
    clock.now += 1.0
    closed = stage.poll() + finish(stage, clock)
    errors = sum(op.errors for s in closed if s.service == "orders-api" for op in s.ops)
    assert errors == 1  # the late error line still made its request a failure
