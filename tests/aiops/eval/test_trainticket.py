"""The TrainTicket importer on a small folder in the same layout, made here (no data of the real set)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from aiops.core.settings import Settings
from aiops.eval import trainticket
from aiops.eval.cli import load_cases
from streams.ingest.logs import decode_log_line
from streams.ingest.otlp import decode_spans
from streams.ingest.otlp_metrics import decode_metrics

SETTINGS = Settings()
CASE_T = datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC).timestamp()
NORMAL_T = datetime(2026, 3, 4, 8, 0, 0, tzinfo=UTC).timestamp()
POD_A, POD_B = "shop-cart-service-5d9f7c-x2k4p", "shop-tax-service-77aa1b-q9zz2"


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _minute(folder: Path, t0: float, trace: str) -> None:
    ns = int(t0 * 1e9)
    _write(folder / "trace" / "10_00_trace.csv",
           ["TraceID", "SpanID", "ParentID", "PodName", "OperationName", "StartTimeUnixNano", "EndTimeUnixNano",
            "Duration"],
           [[trace, "aaaaaaaaaaaaaaa1", "root", POD_A, "/cart", ns, ns + 40_000_000, 40000],
            [trace, "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa1", POD_A, "HTTP GET", ns + 1_000_000, ns + 30_000_000, 29000],
            [trace, "bbbbbbbbbbbbbbb1", "aaaaaaaaaaaaaaa2", POD_B, "/tax", ns + 2_000_000, ns + 28_000_000, 26000]])
    line = ("10:00:00.010 INFO  c.s.TaxService#42 TraceID: " + trace + " SpanID: bbbbbbbbbbbbbbb1 "
            "[tax][computed][amount: 12]\n")
    _write(folder / "log" / "10_00_log.csv",
           ["Timestamp", "TimeUnixNano", "Node", "PodName", "Container", "TraceID", "SpanID", "Log"],
           [[datetime.fromtimestamp(t0 + 0.01, UTC).isoformat(), ns + 10_000_000, "n1", POD_B, "server", trace,
             "bbbbbbbbbbbbbbb1", json.dumps({"log": line, "stream": "stdout"})],
            # a row whose nanosecond column holds the zero time: its ISO column is used instead
            [datetime.fromtimestamp(t0 + 0.02, UTC).isoformat(), -6795364578871345152, "n1", POD_B, "server", trace,
             "bbbbbbbbbbbbbbb1", json.dumps({"log": line.replace("#42", "#50"), "stream": "stdout"})]])


def make_layout(root: Path) -> Path:
    case = root / "cases" / "case-01-tax-exception"
    _minute(case, CASE_T, "c" * 32)
    _minute(root / "normal" / "2026-03-04", NORMAL_T, "d" * 32)
    _write(case / "metric" / f"{POD_B}_metric.csv", ["Time", "TimeStamp", "PodName", "CpuUsageRate(%)",
                                                      "MemoryUsageRate(%)", "PodServerLatencyP90(s)"],
           [["x", int(CASE_T) - 60, POD_B, "0.5", "20", "NaN"], ["x", int(CASE_T), POD_B, "97", "20", "0.2"]])
    (case / "label.json").write_text(json.dumps({
        "root_cause_service": "shop-tax-service", "fault_type": "exception",
        "inject_time_utc": datetime.fromtimestamp(CASE_T, UTC).isoformat().replace("+00:00", "Z"),
        "normal_reference": "normal/2026-03-04/ (minute 08_00)"}))
    return root


def test_a_case_becomes_collector_output_with_the_reference_minute_before_it(tmp_path):
    root = make_layout(tmp_path)
    assert trainticket.is_trainticket(root)
    cases = load_cases(root)
    assert [c.case_id for c in cases] == ["case-01-tax-exception", "normal-2026-03-04"]
    case = cases[0]
    assert case.label.root_cause_service == "shop-tax-service" and case.label.fault_type == "exception"
    spans = [s for r in case.records if r["topic"] == "otlp_spans"
             for s in decode_spans(json.dumps(r["value"]).encode(), SETTINGS)]
    warm = [s for s in spans if s.start_time < case.warmup_until]
    body = [s for s in spans if s.start_time >= case.warmup_until]
    assert len(warm) == len(body) == 3
    # The reference minute ends a second before the case; its ids are renamed, consistently.
    assert 0.0 < (body[0].start_time - max(s.end_time for s in warm)).total_seconds() <= 1.1
    assert {s.trace_id for s in warm} != {s.trace_id for s in body} and len({s.trace_id for s in warm}) == 1
    by_id = {s.span_id: s for s in warm}
    assert all(s.parent_span_id in by_id for s in warm if s.parent_span_id)
    assert {s.service for s in body} == {"shop-cart-service", "shop-tax-service"}
    assert all(s.kind.value == "unspecified" and s.status == "unset" for s in body)


def test_log_lines_are_parsed_as_a_shipper_would_and_metrics_become_kubeletstats_gauges(tmp_path):
    case = load_cases(make_layout(tmp_path))[0]
    logs = [decode_log_line(json.dumps(r["value"]).encode(), SETTINGS) for r in case.records
            if r["topic"] == "aiops.logs.raw" and r["value"]["timestamp"] >= case.warmup_until.isoformat()[:19]]
    assert len(logs) == 2
    first = logs[0]
    assert (first.service, first.level, first.trace_id, first.span_id) == ("shop-tax-service", "info", "c" * 32,
                                                                         "bbbbbbbbbbbbbbb1")
    assert first.message == "[tax][computed][amount: 12]" and first.attributes["logger"] == "c.s.TaxService#42"
    assert logs[1].time.timestamp() > CASE_T  # from the ISO column
    points = [p for r in case.records if r["topic"] == "otlp_metrics"
              for p in decode_metrics(json.dumps(r["value"]).encode(), SETTINGS)]
    cpu = [p.value for p in points if p.name == "k8s.pod.cpu_limit_utilization"]
    assert cpu == [0.005, 0.97] and {p.instance for p in points} == {POD_B}
    assert len([p for p in points if p.name == "trainticket.pod.server_latency_p90"]) == 1  # NaN skipped
