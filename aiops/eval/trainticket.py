"""Importer for the TrainTicket layout (the Nezha dataset's export): labelled fault cases and fault-free minutes.

    CASES_DIR/cases/<case>/label.json                 root_cause_service, fault_type, inject_time_utc, ...
    CASES_DIR/cases/<case>/{log,trace}/HH_MM_*.csv[.xz]
    CASES_DIR/cases/<case>/metric/<pod>_metric.csv[.xz]
    CASES_DIR/normal/<day>/{log,trace}/HH_MM_*.csv[.xz]  one fault-free minute per day

Each CSV row becomes what a collector would have written: spans as OTLP/JSON ExportTraceServiceRequests on
otlp_spans (one per pod per second, no span kind and no status, as recorded), log lines as Vector-style JSON on
aiops.logs.raw (time, level, logger, message, trace and span id parsed from the line, the pod's service), per-pod
metrics as OTLP/JSON ExportMetricsServiceRequests on otlp_metrics (CPU and memory as the kubeletstats receiver
names them; the rest under trainticket.pod.*). The service is the pod name without its two generated suffixes.

Warm-up: the case's fault-free reference minute (same day) is moved in time to end one second before the case's
first log or span, its trace and span ids consistently renamed, and played first, so baselines are learned from
fault-free data. A reference minute is also a case of its own (fault-free): played twice back to back (the first
copy renamed and moved), the second copy scored.
"""

from __future__ import annotations

import csv
import hashlib
import json
import lzma
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiops.eval.cases import Case, CaseError, Label, timeline

LOG_LINE = re.compile(r"^\S+\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+"
                      r"(?:TraceID: (?P<trace>\w+) SpanID: (?P<span>\w+)\s*)?(?P<message>.*)$", re.S)
# Per-pod metric columns: (column, OTLP metric name, unit, scale)
METRIC_COLUMNS = (
    ("CpuUsageRate(%)", "k8s.pod.cpu_limit_utilization", "1", 0.01),
    ("MemoryUsageRate(%)", "k8s.pod.memory_limit_utilization", "1", 0.01),
    ("PodServerLatencyP90(s)", "trainticket.pod.server_latency_p90", "s", 1.0),
    ("PodClientLatencyP90(s)", "trainticket.pod.client_latency_p90", "s", 1.0),
    ("PodSuccessRate(%)", "trainticket.pod.success_rate", "1", 0.01),
)
SPAN_BATCH_S = 1.0


def is_trainticket(root: Path) -> bool:
    return (root / "cases").is_dir() and any((root / "cases").glob("*/label.json"))


def service_of(pod: str) -> str:
    """A Kubernetes pod name without the ReplicaSet hash and the pod suffix."""
    parts = pod.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else pod


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _resource(pod: str) -> dict[str, Any]:
    return {"attributes": [_attr("service.name", service_of(pod)), _attr("k8s.pod.name", pod)]}


def _nanos(ts: float) -> str:
    return str(int(round(ts * 1e9)))


def _renamer(salt: str | None) -> Callable[[str], str]:
    """Trace and span ids as recorded, or (for a copy played as warm-up) consistently renamed, so that a copy
    never shares an id with what it is played before."""
    if salt is None:
        return lambda value: value
    return lambda value: hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()[:len(value)] if value else value


def _read_spans(folder: Path, shift_s: float, salt: str | None) -> list[tuple[float, str, dict[str, Any]]]:
    """(end time, pod, OTLP span) for every trace row."""
    spans = []
    rename = _renamer(salt)
    for path in _files(folder, "*_trace.csv*"):
        for row in _rows(path):
            start, end = int(row["StartTimeUnixNano"]) / 1e9 + shift_s, int(row["EndTimeUnixNano"]) / 1e9 + shift_s
            span = {"traceId": rename(row["TraceID"]), "spanId": rename(row["SpanID"]), "name": row["OperationName"],
                    "kind": 0, "startTimeUnixNano": _nanos(start), "endTimeUnixNano": _nanos(max(end, start))}
            if row["ParentID"] and row["ParentID"] != "root":
                span["parentSpanId"] = rename(row["ParentID"])
            spans.append((end, row["PodName"], span))
    return spans


def _span_requests(spans: list[tuple[float, str, dict[str, Any]]]) -> list[tuple[float, str, str | None, Any]]:
    """One ExportTraceServiceRequest per pod per second of span end times, sent when its last span ended."""
    batches: dict[tuple[str, int], list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for end, pod, span in spans:
        batches[(pod, int(end // SPAN_BATCH_S))].append((end, span))
    out: list[tuple[float, str, str | None, Any]] = []
    for (pod, _), items in batches.items():
        request = {"resourceSpans": [{"resource": _resource(pod), "scopeSpans": [
            {"scope": {"name": "trainticket"}, "spans": [span for _, span in items]}]}]}
        out.append((max(end for end, _ in items), "otlp_spans", None, request))
    return out


def _log_lines(folder: Path, shift_s: float, salt: str | None) -> list[tuple[float, str, str | None, Any]]:
    """Vector-style JSON lines: the container runtime's line parsed into level, logger, ids and message."""
    out: list[tuple[float, str, str | None, Any]] = []
    rename = _renamer(salt)
    for path in _files(folder, "*_log.csv*"):
        for row in _rows(path):
            try:
                text = json.loads(row["Log"])["log"]
            except (ValueError, KeyError, TypeError):
                text = row["Log"]
            ts = _log_time(row)
            if ts is None:
                continue  # no usable time (recorded as the zero time): nothing to place it by
            ts += shift_s
            service = service_of(row["PodName"])
            line: dict[str, Any] = {"timestamp": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
                                    "service": service, "kubernetes": {"pod_name": row["PodName"],
                                                                       "container_name": row["Container"]}}
            match = LOG_LINE.match(text.rstrip("\n"))
            if match:
                line.update(level=match["level"].lower(), logger=match["logger"], message=match["message"].strip())
            else:
                line["message"] = text.rstrip("\n")
            trace_id = (match and match["trace"]) or row.get("TraceID")
            span_id = (match and match["span"]) or row.get("SpanID")
            if trace_id:
                line["trace_id"] = rename(trace_id)
            if span_id:
                line["span_id"] = rename(span_id)
            out.append((ts, "aiops.logs.raw", service, line))
    return out


def _log_time(row: dict[str, str]) -> float | None:
    """The line's time: TimeUnixNano, or the ISO Timestamp column when that is not a plausible epoch."""
    try:
        nanos = int(row["TimeUnixNano"])
        if nanos > 0:
            return nanos / 1e9
    except (KeyError, ValueError):
        pass
    try:
        return datetime.fromisoformat(row["Timestamp"].replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()
    except (KeyError, ValueError):
        return None


def _metric_requests(folder: Path) -> list[tuple[float, str, str | None, Any]]:
    """One ExportMetricsServiceRequest per pod per sample (a gauge per mapped column)."""
    out: list[tuple[float, str, str | None, Any]] = []
    for path in _files(folder, "*_metric.csv*"):
        for row in _rows(path):
            pod = row.get("PodName")
            if not pod:
                continue  # the per-service front-end files have no pod
            ts = float(row["TimeStamp"])
            metrics = []
            for column, name, unit, scale in METRIC_COLUMNS:
                raw = row.get(column, "")
                try:
                    value = float(raw) * scale
                except ValueError:
                    continue
                if value != value:  # NaN: no sample
                    continue
                metrics.append({"name": name, "unit": unit, "gauge": {"dataPoints": [
                    {"timeUnixNano": _nanos(ts), "asDouble": value}]}})
            if metrics:
                request = {"resourceMetrics": [{"resource": _resource(pod), "scopeMetrics": [
                    {"scope": {"name": "kubeletstats"}, "metrics": metrics}]}]}
                out.append((ts, "otlp_metrics", None, request))
    return out


def _first_time(items: list[tuple[float, str, str | None, Any]]) -> float:
    """The earliest event time in the items (a span batch is sent when its last span ends: its first starts earlier)."""
    times = []
    for when, topic, _, value in items:
        if topic == "otlp_spans":
            times += [int(span["startTimeUnixNano"]) / 1e9 for resource in value["resourceSpans"]
                      for scope in resource["scopeSpans"] for span in scope["spans"]]
        else:
            times.append(when)
    return min(times)


def _last_time(items: list[tuple[float, str, str | None, Any]]) -> float:
    return max(when for when, *_ in items)


def _minute(folder: Path, shift_s: float = 0.0, salt: str | None = None) -> list[tuple[float, str, str | None, Any]]:
    return _span_requests(_read_spans(folder / "trace", shift_s, salt)) + _log_lines(folder / "log", shift_s, salt)


def _as_case(case_id: str, label: Label, warmup: list, body: list, description: str,
             notes: dict[str, Any]) -> Case:
    items = [(datetime.fromtimestamp(ts, UTC), topic, key, value) for ts, topic, key, value in warmup + body]
    start, records = timeline(items)
    telemetry = [item for item in body if item[1] != "otlp_metrics"]  # metrics reach further back; they warm up too
    warmup_until = datetime.fromtimestamp(_first_time(telemetry), UTC) if warmup else start
    return Case(case_id, label, start, records, warmup_until, description, notes)


def _reference_folder(root: Path, label: dict[str, Any]) -> Path | None:
    named = str(label.get("normal_reference", "")).split(" ")[0]
    if named and (root / named).is_dir():
        return root / named
    day = str(label.get("inject_time_utc", ""))[:10]
    return root / "normal" / day if (root / "normal" / day).is_dir() else None


def load_case(root: Path, case_dir: Path) -> Case:
    try:
        label = json.loads((case_dir / "label.json").read_text())
        fault_at = datetime.fromisoformat(label["inject_time_utc"].replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError) as exc:
        raise CaseError(f"{case_dir / 'label.json'}: {exc}") from None
    body = _minute(case_dir) + _metric_requests(case_dir / "metric")
    telemetry = [item for item in body if item[1] != "otlp_metrics"]
    if not telemetry:
        raise CaseError(f"{case_dir}: no logs or traces")
    warmup: list = []
    reference = _reference_folder(root, label)
    if reference is not None:
        plain = _minute(reference)
        if plain:
            warmup = _minute(reference, _first_time(telemetry) - 1.0 - _last_time(plain), salt="warm-up")
    return _as_case(case_dir.name, Label(label.get("root_cause_service"), label.get("fault_type"), fault_at),
                    warmup, body, f"{label.get('root_cause_service')} {label.get('fault_type')}",
                    {"reference": str(reference) if reference else None})


def load_reference(folder: Path) -> Case:
    """A fault-free minute as its own case: a copy just before it as warm-up, then the minute, scored."""
    body = _minute(folder)
    if not body:
        raise CaseError(f"{folder}: no logs or traces")
    warmup = _minute(folder, _first_time(body) - 1.0 - _last_time(body), salt="warm-up")
    return _as_case(f"normal-{folder.name}", Label(None), warmup, body, "fault-free reference minute",
                    {"reference": str(folder)})


def load(root: Path) -> list[Case]:
    """Every labelled case under root/cases, then every reference minute under root/normal."""
    cases = [load_case(root, folder) for folder in sorted(p.parent for p in (root / "cases").glob("*/label.json"))]
    cases += [load_reference(folder) for folder in _files(root / "normal", "*") if folder.is_dir()]
    return cases


def describe(case: Case) -> str:
    counts: dict[str, int] = defaultdict(int)
    for record in case.records:
        counts[record["topic"]] += 1
    return ", ".join(f"{n} {topic}" for topic, n in sorted(counts.items()))


__all__ = ["describe", "is_trainticket", "load", "load_case", "load_reference", "service_of"]
