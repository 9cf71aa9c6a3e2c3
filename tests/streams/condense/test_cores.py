"""The condensing cores without Kafka: the fast paths read exactly what the normaliser reads, the template
cache gives drain3's templates, sketches merge, and condensed records become the signals they did per line."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aiops.bench.telemetry import log_lines, trace_requests
from aiops.core.settings import Settings
from streams.condense.logs import LogCondenser
from streams.condense.records import LogTemplateCount, OperationStats, SpanExemplar, decode_condensed
from streams.condense.sketch import merge_sketches, new_sketch, sketch_from_dict, sketch_to_dict
from streams.condense.spans import SpanCondenser
from streams.condense.to_signals import LogTemplateJudge, OperationBaselines, OperationConfig
from streams.ingest.errors import IngestError
from streams.ingest.logs import decode_log_line
from streams.ingest.otlp import decode_spans
from streams.logtemplates.rates import RateConfig
from tests.streams.ingest.samples import (
    T0_NANOS,
    fluentbit_line,
    logs_request,
    otlp_span,
    to_json_bytes,
    trace_request,
    vector_line,
)

SETTINGS = Settings(condense_trace_stats=True)  # the whole-trace statistics are tested here too
LINES = [
    to_json_bytes(vector_line()),
    to_json_bytes(fluentbit_line()),
    to_json_bytes({"ts": 1795687201123, "msg": "took 12ms", "lvl": 50, "service": "a", "trace_id": "ABCDEF0123456789"}),
    to_json_bytes({"time": "2026-11-26 10:00:01", "log": {"nested": True}, "level": "warn", "app": "b"}),
    to_json_bytes({"timestamp": "2026-11-26T10:00:01+02:00", "message": "x", "service.name": "c", "severity": "E"}),
    to_json_bytes({"date": "1795687201", "message": "epoch as text", "service": " spaced ", "trace_id": "0000"}),
    to_json_bytes({"timestamp": "20261126", "message": "a basic-format date", "service": "d"}),
    to_json_bytes({"timestamp": "2026-11-26T10:00:01Z", "message": "", "service": "", "app": "e"}),
    to_json_bytes({"timestamp": None, "time": "2026-11-26T10:00:01Z", "message": "null first", "service": "f"}),
    to_json_bytes({"timestamp": "2026-11-26T10:00:01Z", "message": "multi\nline\nstack", "service": "g",
                   "level": True}),
] + log_lines(200)


@pytest.mark.parametrize("value", LINES, ids=range(len(LINES)))
def test_json_fast_path_reads_what_the_normaliser_reads(value):
    condenser = LogCondenser(SETTINGS)
    line = condenser._json_line(value)
    expected = condenser._from_record(decode_log_line(value, SETTINGS))
    if "timestamp" not in json.loads(value) and "@timestamp" not in json.loads(value) \
            and "ts" not in json.loads(value) and "time" not in json.loads(value) and "date" not in json.loads(value):
        line, expected = line._replace(time=0), expected._replace(time=0)  # both stamp the observed time
    assert line._replace(trace_id=None) == expected._replace(trace_id=None)
    from streams.ingest.fields import normalize_trace_id

    assert (normalize_trace_id(line.trace_id) if line.trace_id else None) == expected.trace_id


@pytest.mark.parametrize("value", [b"{bad", b"[]", b'{"message": "m"}', b'{"service": "s"}', b"",
                                   b'{"message": "m", "service": "s", "timestamp": "yesterday"}',
                                   b'{"message": "\\ud800", "service": "s"}',
                                   b'{"message": "m", "service": "s", "x": ' + b"[" * 70 + b"]" * 70 + b"}"])
def test_bad_lines_are_refused_with_the_normalisers_reason(value):
    with pytest.raises(IngestError) as refused:
        LogCondenser(SETTINGS).add("json", value)
    with pytest.raises(IngestError) as normaliser:
        decode_log_line(value, SETTINGS)
    assert str(refused.value) == str(normaliser.value)


def test_lines_that_differ_in_numbers_share_a_template_and_drain3_sees_each_shape_once():
    condenser = LogCondenser(SETTINGS)
    for i in range(500):
        condenser.add("json", to_json_bytes({"timestamp": "2026-11-26T10:00:01Z", "service": "orders-api",
                                              "message": f"upstream {random.getrandbits(32):08x} returned 503 "
                                                         f"after {i}ms", "level": "error"}))
    records = [decode_condensed(v) for _, v in condenser.drain()]
    assert len(records) == 1
    record = records[0]
    assert isinstance(record, LogTemplateCount)
    assert record.count == 500 and record.severity == "error" and len(record.examples) == 3
    assert "<HEX>" in record.template or "<*>" in record.template
    assert condenser.services["orders-api"].miner.templates() == {record.template_id: record.template}


def _counts(condenser: LogCondenser) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for _, value in condenser.drain():
        record = decode_condensed(value)
        found[(record.service, record.template_id)] = found.get((record.service, record.template_id), 0) + record.count
    return found


def test_miner_snapshots_restore_the_same_template_ids():
    original = LogCondenser(SETTINGS)
    for value in log_lines(500):
        original.add("json", value)
    original.drain()
    saved = dict(original.snapshots())
    assert len(saved) == 10 and original.snapshots() == []  # only what changed since the last call
    restored = LogCondenser(SETTINGS)
    restored.restore(saved)
    for value in log_lines(500, seed=99) + [to_json_bytes({"timestamp": "2026-11-26T10:00:01Z",
                                                            "service": "orders-api", "message": "a new shape"})]:
        original.add("json", value)
        restored.add("json", value)
    assert _counts(restored) == _counts(original)
    assert restored.services["orders-api"].template_of("a new shape") == "9"  # ids go on, not start over


@pytest.mark.parametrize("requests", [
    trace_requests(3000, 50),
    [trace_request(otlp_span(status=Status.STATUS_CODE_ERROR, message="boom"),
                   otlp_span("call db", span_id="00f067aa0ba902b8", parent_span_id="00f067aa0ba902b7",
                             kind=Span.SPAN_KIND_CLIENT, duration_ns=40_000_000,
                             attributes={"db.system": "postgresql"})).SerializeToString()],
], ids=["bench", "samples"])
def test_span_fast_path_counts_what_the_normaliser_decodes(requests):
    fast, slow = SpanCondenser(SETTINGS), SpanCondenser(SETTINGS)
    for value in requests:
        fast.add("otlp", value)
        slow._count([slow._view(span) for span in decode_spans(value, SETTINGS)])
    assert sorted(fast.drain()) == sorted(slow.drain())


def test_operation_stats_carry_errors_exclusive_time_and_edges():
    request = trace_request(otlp_span(status=Status.STATUS_CODE_ERROR, message="boom"),
                            otlp_span("call db", span_id="00f067aa0ba902b8", parent_span_id="00f067aa0ba902b7",
                                      kind=Span.SPAN_KIND_CLIENT, duration_ns=40_000_000,
                                      attributes={"db.system": "postgresql"}))
    condenser = SpanCondenser(SETTINGS)
    condenser.add("otlp", request.SerializeToString())
    records = [decode_condensed(v) for _, v in condenser.drain()]
    server = next(r for r in records if isinstance(r, OperationStats) and r.side == "server")
    assert (server.count, server.errors, server.ok_count) == (1, 1, 0)
    assert server.exclusive_sum_ms == pytest.approx(2.5)  # 42.5 ms minus its 40 ms child
    assert server.errors_exemplars[0].message == "boom"
    client = next(r for r in records if isinstance(r, OperationStats) and r.side == "client")
    assert client.peer_service == "postgresql"
    edges = [(r.caller, r.callee, r.calls) for r in records if r.__class__.__name__ == "CallEdge"]
    assert edges == [("orders-api", "postgresql", 1)]


def test_a_bad_span_is_rejected_alone_with_the_normalisers_reason_and_the_rest_counted():
    request = trace_request(otlp_span(), otlp_span(span_id="00f067aa0ba902b8", start=10, duration_ns=-5))
    value = request.SerializeToString()
    condenser = SpanCondenser(SETTINGS)
    rejected = condenser.add("otlp", value)
    decoded = decode_spans(value, SETTINGS)
    assert [r.describe() for r in rejected] == [r.describe() for r in decoded.rejected] != []
    assert rejected[0].original  # the span alone, as a request, for its dead letter
    records = [decode_condensed(v) for _, v in condenser.drain()]
    assert sum(r.count for r in records if isinstance(r, OperationStats)) == 1


def test_a_request_that_cannot_be_read_is_refused_whole():
    condenser = SpanCondenser(SETTINGS)
    with pytest.raises(IngestError) as refused:
        condenser.add("otlp", b"\x0a\xff\xff garbage")
    with pytest.raises(IngestError) as normaliser:
        decode_spans(b"\x0a\xff\xff garbage", SETTINGS)
    assert str(refused.value) == str(normaliser.value)
    assert condenser.drain() == []


def test_error_exemplars_carry_placement_and_exception():
    span = otlp_span(status=Status.STATUS_CODE_ERROR, message="boom")
    event = span.events.add()
    event.name = "exception"
    for key, text in (("exception.type", "PoolTimeout"), ("exception.message", "no connection"),
                      ("exception.stacktrace", "at pool.get\nat orders.list")):
        kv = event.attributes.add()
        kv.key, kv.value.string_value = key, text
    value = trace_request(span, resource={"k8s.pod.name": "orders-api-7d9f", "service.version": "1.4.2"}
                          ).SerializeToString()
    fast, slow = SpanCondenser(SETTINGS), SpanCondenser(SETTINGS)
    fast.add("otlp", value)
    slow._count([slow._view(s) for s in decode_spans(value, SETTINGS)])
    assert fast.drain() == slow.drain()
    fast.add("otlp", value)
    (record,) = [r for _, v in fast.drain() if isinstance(r := decode_condensed(v), OperationStats)]
    exemplar = record.errors_exemplars[0]
    assert exemplar.placement == {"service": "orders-api", "pod": "orders-api-7d9f", "version": "1.4.2"}
    assert (exemplar.exception_type, exemplar.exception_message) == ("PoolTimeout", "no connection")
    signal = OperationBaselines(OperationConfig(), {}).observe(record)[0]
    assert signal.placement is not None and signal.placement.pod == "orders-api-7d9f"
    assert signal.exception_stacktrace == "at pool.get\nat orders.list"


def test_sketches_round_trip_and_merge_within_their_accuracy():
    rng = random.Random(3)
    parts = []
    values = []
    for _ in range(4):
        sketch = new_sketch()
        for _ in range(2500):
            v = rng.lognormvariate(3, 1)
            sketch.add(v)
            values.append(v)
        parts.append(json.loads(json.dumps(sketch_to_dict(sketch))))
    merged = merge_sketches(parts)
    values.sort()
    assert merged.count == len(values)
    for q in (0.5, 0.9, 0.99):
        exact = values[int(q * (len(values) - 1))]
        assert merged.get_quantile_value(q) == pytest.approx(exact, rel=0.03)
    assert sketch_from_dict(parts[0]).count == 2500
    with pytest.raises(ValueError):
        sketch_from_dict({"keys": [1]})


def _stats(ok: int, ok_mean: float, errors=(), slow=()) -> OperationStats:
    return OperationStats(service="orders-api", operation="GET /orders", side="server", bucket_start=0.0, bucket_s=10,
                          count=ok + len(errors), errors=len(errors), duration_sum_ms=ok * ok_mean, ok_count=ok,
                          ok_duration_sum_ms=ok * ok_mean, exclusive_sum_ms=0.0, max_ms=ok_mean,
                          sketch=sketch_to_dict(new_sketch()), errors_exemplars=list(errors), slow_exemplars=list(slow))


def test_operation_baselines_fold_a_record_like_its_spans_one_by_one():
    table: dict = {}
    baselines = OperationBaselines(OperationConfig(min_samples=20), table)
    assert baselines.observe(_stats(10, 50.0)) == []
    assert baselines.observe(_stats(15, 50.0)) == []
    assert table["orders-api|GET /orders"] == {"n": 25, "mean_ms": pytest.approx(50.0)}
    error = SpanExemplar(trace_id="a" * 32, span_id="b" * 16, duration_ms=30.0, end_time=1.0, error=True,
                         message="boom")
    slow = SpanExemplar(trace_id="c" * 32, span_id="d" * 16, duration_ms=900.0, end_time=1.0)
    normal = SpanExemplar(trace_id="e" * 32, span_id="f" * 16, duration_ms=80.0, end_time=1.0)
    signals = baselines.observe(_stats(3, 100.0, errors=[error], slow=[slow, normal]))
    assert [(s.evidence, s.span_id, s.baseline_ms) for s in signals] == [
        ("error", "b" * 16, pytest.approx(50.0)), ("slow", "d" * 16, pytest.approx(50.0))]
    mean = 50.0
    for _ in range(3):  # what the per-span profiler did
        mean = 0.95 * mean + 0.05 * 100.0
    assert table["orders-api|GET /orders"]["mean_ms"] == pytest.approx(mean)


def test_a_new_error_template_becomes_one_log_signal_with_its_count():
    judge = LogTemplateJudge(RateConfig(), {})
    record = LogTemplateCount(service="orders-db", template_id="7", template="FATAL: remaining connection slots",
                              bucket_start=1000.0, bucket_s=10, count=51, level="FATAL", severity="critical",
                              first_time=1000.5, last_time=1009.0, examples=["FATAL: remaining connection slots"],
                              trace_ids=["a" * 32])
    signals = judge.observe(record)
    assert len(signals) == 1
    assert (signals[0].count, signals[0].reason, signals[0].trace_ids) == (
        51, "new template at critical level", ["a" * 32])
    assert judge.observe(record) == []  # the cooldown: the same template is not reported again at once


def test_otlp_log_counts_name_where_they_were_logged_and_become_log_signals_that_do_too():
    condenser = LogCondenser(Settings(correlation_scope_labels=["k8s.cluster.name"]))
    for pod in ("orders-db-0", "orders-db-1"):
        request = logs_request(*[f"FATAL: remaining connection slots are reserved ({i})" for i in range(4)],
                               service="orders-db", resource={"k8s.pod.name": pod, "k8s.namespace.name": "shop",
                                                              "k8s.cluster.name": "eu-1"})
        assert condenser.add("otlp", request.SerializeToString()) == []
    (record,) = [decode_condensed(v) for _, v in condenser.drain()]
    assert record.count == 8 and record.scope == "eu-1" and record.severity == "error"
    assert record.placements == [{"service": "orders-db", "namespace": "shop", "pod": "orders-db-0"},
                                 {"service": "orders-db", "namespace": "shop", "pod": "orders-db-1"}]
    (signal,) = LogTemplateJudge(RateConfig(), {}).observe(record)
    assert {p.pod for p in signal.placements} == {"orders-db-0", "orders-db-1"}


def _two_service_requests() -> list[bytes]:
    """A call from frontend to orders as TrainTicket exports it: one request per service, no span kinds, the
    caller's call span a leaf of its request, the callee's entry span its child in the other request."""
    unspecified = Span.SPAN_KIND_UNSPECIFIED
    caller = trace_request(
        otlp_span("/checkout", span_id="00000000000000a1", kind=unspecified, duration_ns=100_000_000),
        otlp_span("HTTP GET", span_id="00000000000000a2", parent_span_id="00000000000000a1", kind=unspecified,
                  start=T0_NANOS + 10_000_000, duration_ns=70_000_000),
        service="frontend")
    callee = trace_request(
        otlp_span("/orders", span_id="00000000000000b1", parent_span_id="00000000000000a2", kind=unspecified,
                  start=T0_NANOS + 20_000_000, duration_ns=40_000_000),
        service="orders")
    return [callee.SerializeToString(), caller.SerializeToString()]


def test_service_stats_of_whole_traces_are_the_per_line_readers():
    from streams.anomaly.traces import TraceCondenser, TraceCondenserConfig
    from streams.condense.records import ServiceSpanStats

    wall = [0.0]
    condenser = SpanCondenser(SETTINGS, wall=lambda: wall[0])
    per_line = TraceCondenser(TraceCondenserConfig.from_settings(SETTINGS))
    for value in _two_service_requests():
        condenser.add("otlp", value)
        for span in decode_spans(value, SETTINGS):
            per_line.add_span(span)
    assert not [r for _, v in condenser.drain() if isinstance(r := decode_condensed(v), ServiceSpanStats)]
    assert condenser.holding()  # the trace is not quiet yet: held past the flush
    wall[0] = 3 * SETTINGS.condense_flush_s  # no input for three flush intervals: read what is held
    records = [decode_condensed(v) for _, v in condenser.drain()]
    assert not condenser.holding()
    stats = {r.service: r.stats for r in records if isinstance(r, ServiceSpanStats)}
    expected = {s.service: s.model_dump(mode="json") for s in per_line.flush()}
    assert stats == expected
    frontend = {op["op"]: op for op in stats["frontend"]["ops"]}["/checkout"]
    assert (frontend["entries"], frontend["latency_ms"], frontend["self_ms"]) == (1, [100.0], [30.0])
    (edge,) = stats["orders"]["edges"]
    assert (edge["caller"], edge["client_ms"], edge["server_ms"], edge["gap_ms"]) == ("frontend", [70.0], [40.0],
                                                                                       [30.0])
    assert not [r for r in (decode_condensed(v) for _, v in condenser.drain()) if isinstance(r, ServiceSpanStats)]


def test_spans_without_a_kind_give_the_edge_from_parent_to_child_service():
    condenser = SpanCondenser(SETTINGS)
    for value in _two_service_requests():
        condenser.add("otlp", value)
    edges = [(r.caller, r.callee, r.calls) for r in (decode_condensed(v) for _, v in condenser.drain())
             if r.__class__.__name__ == "CallEdge"]
    assert edges == [("frontend", "orders", 1)]


def test_service_stats_parts_reach_the_detector_once_per_bucket_whole():
    from streams.condense.records import ServiceSpanStats
    from streams.condense.to_signals import ServiceStatsBuckets

    wall = [0.0]
    buckets = ServiceStatsBuckets(grace_s=15.0, idle_s=10.0, wall=lambda: wall[0])

    def part(start: float, entries: int) -> ServiceSpanStats:
        stats = {"service": "orders", "bucket_start": datetime.fromtimestamp(start, UTC).isoformat(), "bucket_s": 10,
                 "ops": [{"op": "/orders", "spans": entries, "entries": entries, "latency_ms": [10.0] * entries,
                          "self_ms": [5.0] * entries}]}
        return ServiceSpanStats(service="orders", bucket_start=start, stats=stats)

    assert buckets.add(part(100.0, 2)) == [] and buckets.add(part(100.0, 3)) == []
    assert buckets.add(part(110.0, 1)) == []  # its end (110) + 15 s grace not reached yet
    (closed,) = buckets.add(part(120.0, 1))
    assert (closed.bucket_start.timestamp(), closed.ops[0].entries, len(closed.ops[0].latency_ms)) == (100.0, 5, 5)
    assert buckets.poll() == []
    wall[0] = 10.0  # no part for idle_s: the rest is all there will be
    assert [(s.bucket_start.timestamp(), s.ops[0].entries) for s in buckets.poll()] == [(110.0, 1), (120.0, 1)]


def test_held_traces_are_read_once_quiet_in_event_time_or_when_too_many():
    from streams.anomaly.traces import TraceCondenserConfig
    from streams.condense.held_traces import HeldTraces

    condenser = SpanCondenser(SETTINGS)
    views = [condenser._view(span) for value in _two_service_requests() for span in decode_spans(value, SETTINGS)]
    later = [v._replace(trace_id="f" * 32, span_id="00000000000000c1", parent_id=None, end_s=v.end_s + 6.0)
             for v in views[:1]]
    held = HeldTraces(TraceCondenserConfig.from_settings(SETTINGS), force_after_s=1e9, wall=lambda: 0.0)
    held.add(views)
    assert held.read() == [] and held.holding()
    held.add(later)  # event time 6 s on: the first trace has been quiet for longer than trace_idle_s (5 s)
    assert {r.service for r in held.read()} == {"frontend", "orders"}
    assert held.holding()  # the later trace is still open
    small = HeldTraces(TraceCondenserConfig.from_settings(SETTINGS), force_after_s=1e9, max_spans=1,
                       wall=lambda: 0.0)
    small.add(views)
    assert {r.service for r in small.read()} == {"frontend", "orders"} and not small.holding()
