"""Labelled fault scenarios of the sample shop, for measuring root-cause analysis (`aiops eval rca`).

Each scenario is four minutes of the shop's traffic (aiops/demo/shop.py): two minutes of fault-free reference
(the warm-up), then one fault injected into one service at 2:30. The four fault types, each on several services:
- exception: the service's handler throws after its calls: an error log, a failed span, its result statements
  never written; callers see the failure (and log it) unless they have a fallback;
- return: a method returns a wrong (empty) value: the service writes another statement instead of its result,
  and callers take their fallback path (and say so);
- cpu_contention: a CPU hog in the pod: the service's own work takes several times longer, its CPU metric is
  near its limit;
- network_delay: added latency on the pod's network: every message into and out of the service is late.
Noise in every scenario: per-request jitter, rare search-backend timeouts (errors), a short search-backend
slowdown in each window, a data-dependent branch in inventory-api, an unrelated warning that fires and resolves.

Deterministic: `python -m aiops.demo.faults --out DIR` writes the same files every time (the replay format of
aiops/demo/replay.py, with the label in the header, see aiops/eval/recordings.py).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiops.demo.scenario import otlp_span
from aiops.demo.shop import ENDPOINTS, SERVICES, TRAFFIC, Endpoint, Hop, LogStatement

RECORDED_AT = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)
WARMUP_S = 120.0
FAULT_AT_S = 150.0
DURATION_S = 240.0
REQUESTS_PER_S = 2.5
SCENARIOS: tuple[tuple[str, str], ...] = (
    ("exception", "payments-api"), ("exception", "inventory-api"), ("exception", "shipping-api"),
    ("exception", "search-api"),
    ("return", "inventory-api"), ("return", "recommendation-api"), ("return", "auth-service"),
    ("return", "orders-api"),
    ("cpu_contention", "orders-api"), ("cpu_contention", "search-api"), ("cpu_contention", "checkout-api"),
    ("cpu_contention", "payments-api"),
    ("network_delay", "inventory-api"), ("network_delay", "payments-api"), ("network_delay", "orders-api"),
    ("network_delay", "auth-service"),
)
NETWORK_DELAY_MS = 250.0  # per message, each way
CPU_SLOWDOWN = 5.0
BLIPS = ((60.0, 68.0), (196.0, 203.0))  # search-es slow for a few seconds (noise)


@dataclass(frozen=True)
class Fault:
    kind: str | None  # None: a fault-free scenario
    service: str | None
    at_s: float = FAULT_AT_S

    def on(self, service: str, t: float) -> bool:
        return self.kind is not None and service == self.service and t >= self.at_s


def _iso(t: float) -> str:
    return (RECORDED_AT + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")


def _nanos(t: float) -> str:
    return str(int(round((RECORDED_AT + timedelta(seconds=t)).timestamp() * 1e9)))


def _attr(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": str(value)}}


class FaultScenario:
    def __init__(self, fault: Fault, seed: int):
        self.fault = fault
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
        self.lines: list[dict[str, Any]] = []
        self.pods = {s: f"{s}-{self.rng.randrange(16**6):06x}-{self.rng.randrange(16**5):05x}" for s in SERVICES}
        self.load: dict[tuple[str, int], int] = {}  # (service, 10 s slot) → requests, for the CPU metric

    def _hex(self, nbytes: int) -> str:
        return "".join(f"{self.rng.randrange(256):02x}" for _ in range(nbytes))

    def _work(self, median_ms: float) -> float:
        return median_ms * math.exp(self.rng.gauss(0.0, 0.35))

    def _net(self, caller: str, callee: str, t: float) -> float:
        """One message between two services: a millisecond or so, plus the delay on a faulty pod's network."""
        delay = self.rng.uniform(0.3, 1.5)
        if self.fault.kind == "network_delay" and (self.fault.on(caller, t) or self.fault.on(callee, t)):
            delay += NETWORK_DELAY_MS * self.rng.uniform(0.9, 1.1)
        return delay

    def _fill(self, text: str, t: float, ms: float) -> str:
        return text.format(id=self._hex(6), n=self.rng.randrange(1, 200), ms=int(ms),
                           sku=f"SKU-{self.rng.randrange(10000, 99999)}")

    def _log(self, hop: Hop, service: str, statement: LogStatement, t: float, trace: str, span: str,
             ms: float = 0.0, text: str | None = None) -> None:
        hop.logs.append({"at": t, "line": {
            "timestamp": _iso(t), "level": statement.level, "service": service, "logger": statement.logger,
            "message": text or self._fill(statement.text, t, ms), "trace_id": trace, "span_id": span,
            "kubernetes": {"pod_name": self.pods[service], "namespace_name": "shop"}}})

    def _span(self, hop: Hop, service: str, trace: str, span: str, parent: str | None, name: str, kind: int,
              start: float, ms: float, error: str | None, attributes: dict[str, Any]) -> None:
        record = otlp_span(trace, span, parent, name, kind, _nanos(start), _nanos(start + ms / 1000), error,
                           attributes)
        hop.spans.append({"service": service, "end": start + ms / 1000, "span": record})

    def serve(self, key: str, t: float, parent: str | None, trace: str, hop: Hop) -> tuple[float, bool, bool]:
        """Simulate one endpoint at time t; (duration ms, failed, returned an empty result)."""
        endpoint: Endpoint = ENDPOINTS[key]
        service = endpoint.service
        self.load[(service, int(t // 10))] = self.load.get((service, int(t // 10)), 0) + 1
        span = self._hex(8)
        slow = CPU_SLOWDOWN * self.rng.uniform(0.8, 1.3) if (
            self.fault.kind == "cpu_contention" and self.fault.on(service, t)) else 1.0
        cursor = t + self._work(endpoint.work_ms) * 0.4 * slow / 1000
        for statement in endpoint.logs:
            if not statement.after_calls:
                self._log(hop, service, statement, cursor, trace, span)
        failed, error = False, None
        for call in endpoint.calls:
            client = self._hex(8)
            there = self._net(service, call.callee, cursor) / 1000
            child_failed, empty = False, False
            if call.endpoint:
                child_ms, child_failed, empty = self.serve(f"{call.callee} {call.endpoint}", cursor + there, client,
                                                           trace, hop)
            else:
                child_ms = self._store_ms(call.callee, cursor)
                child_failed = call.callee == "search-es" and self.rng.random() < 0.004
                child_ms = 2000.0 if child_failed else child_ms
            back = self._net(call.callee, service, cursor + there + child_ms / 1000) / 1000
            client_ms = (there + back) * 1000 + child_ms
            self._span(hop, service, trace, client, span, call.operation, 3, cursor, client_ms,
                       f"upstream {call.callee} failed" if child_failed else None, {"peer.service": call.callee})
            cursor += client_ms / 1000
            if child_failed and not call.fallback:
                failed, error = True, f"upstream {call.callee} failed"
                text = (f"search backend timeout after {int(child_ms)}ms" if call.endpoint is None
                        else f"upstream {call.callee} returned 500 for {call.endpoint}")
                self._log(hop, service, LogStatement("UpstreamClient#27", "error", ""), cursor, trace, span, text=text)
                break
            if child_failed or empty:
                what = "unavailable" if child_failed else "returned nothing"
                self._log(hop, service, LogStatement("Fallbacks#44", "warn", ""), cursor, trace, span,
                          text=f"{call.callee} {what}, using fallback for {call.endpoint}")
        empty = False
        if not failed and self.fault.kind == "exception" and self.fault.on(service, t):
            failed, error = True, "java.lang.IllegalStateException: ledger entry missing"
            self._log(hop, service, LogStatement("ExceptionHandler#31", "error", ""), cursor, trace, span,
                      text=f"unhandled IllegalStateException in {endpoint.name}: ledger entry missing for "
                           f"{self._hex(6)}")
        if not failed:
            empty = self.fault.kind == "return" and self.fault.on(service, t)
            self._result_logs(hop, endpoint, cursor, trace, span, empty)
        ms = (cursor - t) * 1000 + self._work(endpoint.work_ms) * 0.6 * slow
        self._span(hop, service, trace, span, parent, endpoint.name, 2, t, ms, error,
                   {"http.response.status_code": 500 if failed else 200})
        return ms, failed, empty

    def _result_logs(self, hop: Hop, endpoint: Endpoint, t: float, trace: str, span: str, empty: bool) -> None:
        branches: dict[str, list[LogStatement]] = {}
        for statement in endpoint.logs:
            if statement.after_calls and statement.branch:
                branches.setdefault(statement.branch, []).append(statement)
        chosen = {name: self.rng.choices(group, [s.share for s in group])[0] for name, group in branches.items()}
        for statement in endpoint.logs:
            if not statement.after_calls or (statement.branch and chosen[statement.branch] is not statement):
                continue
            if empty:  # the wrong value: the result statements are not reached, a warning is
                self._log(hop, endpoint.service, LogStatement("ResultMapper#58", "warn", ""), t, trace, span,
                          text=f"returning empty {endpoint.result} for {self._hex(6)}")
                return
            self._log(hop, endpoint.service, statement, t, trace, span)

    def _store_ms(self, store: str, t: float) -> float:
        ms = self._work(2.0)
        if store == "search-es" and any(a <= t < b for a, b in BLIPS):
            ms += 250.0 * self.rng.uniform(0.8, 1.2)
        return ms

    def request(self, t: float) -> None:
        key = self.rng.choices([k for k, _ in TRAFFIC], [w for _, w in TRAFFIC])[0]
        hop = Hop()
        trace = self._hex(16)
        self.serve(key, t, None, trace, hop)
        by_service: dict[str, list[dict]] = {}
        last: dict[str, float] = {}
        for item in hop.spans:
            by_service.setdefault(item["service"], []).append(item["span"])
            last[item["service"]] = max(last.get(item["service"], 0.0), item["end"])
        for service, spans in by_service.items():
            self.lines.append({"at": round(last[service] + 0.05, 3), "topic": "otlp_spans", "key": None, "value": {
                "resourceSpans": [{"resource": {"attributes": [_attr("service.name", service),
                                                               _attr("k8s.pod.name", self.pods[service])]},
                                   "scopeSpans": [{"scope": {"name": "shop"}, "spans": spans}]}]}})
        for log in hop.logs:
            self.lines.append({"at": round(log["at"], 3), "topic": "aiops.logs.raw", "key": log["line"]["service"],
                               "value": log["line"]})

    def metrics(self) -> None:
        for slot in range(int(DURATION_S // 10)):
            t = slot * 10 + 9.5
            for service in SERVICES:
                load = self.load.get((service, slot), 0)
                cpu = 0.08 + 0.01 * load + self.rng.uniform(-0.02, 0.02)
                if self.fault.kind == "cpu_contention" and self.fault.on(service, t):
                    cpu = self.rng.uniform(0.92, 1.0)
                self.lines.append({"at": t, "topic": "otlp_metrics", "key": None, "value": {"resourceMetrics": [{
                    "resource": {"attributes": [_attr("service.name", service),
                                                _attr("k8s.pod.name", self.pods[service])]},
                    "scopeMetrics": [{"scope": {"name": "kubeletstats"}, "metrics": [
                        {"name": "k8s.pod.cpu_limit_utilization", "unit": "1", "gauge": {"dataPoints": [
                            {"timeUnixNano": _nanos(t), "asDouble": round(max(cpu, 0.01), 4)}]}},
                        {"name": "k8s.pod.memory_limit_utilization", "unit": "1", "gauge": {"dataPoints": [
                            {"timeUnixNano": _nanos(t), "asDouble": round(0.45 + self.rng.uniform(-0.01, 0.01), 4)}]}},
                    ]}]}]}})

    def noise_alert(self) -> None:
        labels = {"alertname": "RecommendationLatencyHigh", "service": "recommendation-api", "severity": "warning"}
        for at, status in ((40.0, "firing"), (75.0, "resolved")):
            alert = {"status": status, "labels": labels, "annotations": {"summary": "p95 above 800ms"},
                     "startsAt": _iso(38.0), "endsAt": _iso(74.0) if status == "resolved" else "0001-01-01T00:00:00Z",
                     "fingerprint": "5eb3c0a8d1f2e4a7"}
            self.lines.append({"at": at, "topic": "aiops.alerts.raw", "key": alert["fingerprint"], "value": {
                "version": "4", "status": status, "receiver": "aiops",
                "groupLabels": {"alertname": labels["alertname"]}, "commonLabels": labels,
                "commonAnnotations": alert["annotations"], "externalURL": "http://am:9093",
                "groupKey": "{}:{alertname=\"RecommendationLatencyHigh\"}", "alerts": [alert]}})

    def build(self) -> list[dict[str, Any]]:
        t = 0.0
        while t < DURATION_S:
            self.request(t)
            t += self.rng.expovariate(REQUESTS_PER_S)
        self.metrics()
        self.noise_alert()
        return sorted(self.lines, key=lambda line: line["at"])


def scenario_name(fault: Fault) -> str:
    return f"fault-{fault.kind}-{fault.service}" if fault.kind else "fault-free"


def recording(fault: Fault, seed: int) -> list[str]:
    """The scenario as replay-format lines: the labelled header, then one JSON line per record."""
    header = {"scenario": scenario_name(fault), "recorded_at": _iso(0.0),
              "description": f"the shop with {fault.kind} on {fault.service}" if fault.kind else "the shop, fault-free",
              "label": {"root_cause_service": fault.service, "fault_type": fault.kind,
                        "fault_at": fault.at_s if fault.kind else None},
              "warmup_until": WARMUP_S}
    body = FaultScenario(fault, seed).build()
    return [json.dumps(header)] + [json.dumps(line, separators=(",", ":")) for line in body]


def all_scenarios() -> list[tuple[str, Fault, int]]:
    """(file name, fault, seed) for every labelled scenario and two fault-free ones."""
    out = [(f"{i + 1:02d}-{scenario_name(Fault(kind, service))}", Fault(kind, service), 100 + i)
           for i, (kind, service) in enumerate(SCENARIOS)]
    out += [(f"{len(SCENARIOS) + j + 1:02d}-fault-free-{j + 1}", Fault(None, None), 200 + j) for j in range(2)]
    return out


def write(out: Path, only: list[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fault, seed in all_scenarios():
        if only and not any(part in name for part in only):
            continue
        path = out / f"{name}.jsonl"
        path.write_text("\n".join(recording(fault, seed)) + "\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the scenario files")
    parser.add_argument("--only", nargs="*", help="only scenarios whose name contains one of these")
    args = parser.parse_args()
    for path in write(args.out, args.only):
        print(path)


if __name__ == "__main__":
    main()
