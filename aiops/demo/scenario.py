"""Builds the bundled demo scenario: the sample shop, healthy for a while, then a migration holding a lock on
orders-db exhausts its connections; orders-api times out acquiring connections and returns 503, checkout-api
and web-frontend fail in turn. Background noise: healthy traffic on other services, info logs, and an
unrelated recommendation-api latency warning that fires and resolves.

Run `python -m aiops.demo.scenario > aiops/demo/scenarios/shop-cascade.jsonl` to regenerate the checked-in file
(deterministic). The file format is documented in aiops/demo/replay.py."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from aiops.core.topics import OTLP_SPANS, RAW_ALERTS, RAW_LOGS

RECORDED_AT = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)
DESCRIPTION = ("The sample shop: healthy traffic, then a migration lock exhausts orders-db connections and the "
               "failure cascades to orders-api, checkout-api and web-frontend; with unrelated noise.")
FAILURE_AT = 90.0
DURATION = 150.0
CHAIN = [("web-frontend", "GET /checkout"), ("api-gateway", "POST /api/checkout"),
         ("checkout-api", "POST /checkout"), ("orders-api", "POST /orders")]
SIDE_CHAINS = [
    [("web-frontend", "GET /search"), ("api-gateway", "GET /api/search"), ("search-api", "GET /search")],
    [("web-frontend", "GET /product"), ("api-gateway", "GET /api/stock"), ("inventory-api", "GET /stock")],
    [("checkout-api", "POST /pay"), ("payments-api", "POST /charges")],
]
DATASTORES = {"orders-api": "orders-db", "inventory-api": "inventory-db", "payments-api": "payments-db",
              "search-api": "search-es"}


def _ts(offset: float) -> datetime:
    return RECORDED_AT + timedelta(seconds=offset)


def _rfc3339(offset: float) -> str:
    return _ts(offset).isoformat().replace("+00:00", "Z")


def _nanos(offset: float) -> str:
    return str(int(_ts(offset).timestamp() * 1_000_000_000))


def _hex(rng: random.Random, nbytes: int) -> str:
    return "".join(f"{rng.randrange(256):02x}" for _ in range(nbytes))


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def otlp_span(trace_id: str, span_id: str, parent: str | None, name: str, kind: int, start_nanos: str,
              end_nanos: str, error: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
    """One span as OTLP/JSON writes it; `error` is the status message of a failed span (None: ok)."""
    span: dict[str, Any] = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
                            "startTimeUnixNano": start_nanos, "endTimeUnixNano": end_nanos,
                            "attributes": [_attr(k, v) for k, v in attributes.items()],
                            "status": {"code": 2, "message": error} if error else {"code": 1}}
    if parent:
        span["parentSpanId"] = parent
    return span


class Scenario:
    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
        self.lines: list[dict[str, Any]] = []

    def emit(self, at: float, topic: str, value: dict[str, Any], key: str | None = None) -> None:
        self.lines.append({"at": round(at, 3), "topic": topic, "key": key, "value": value})

    # --- spans: one OTLP/JSON ExportTraceServiceRequest per service per trace --------------------------
    def trace(self, at: float, chain: list[tuple[str, str]], failing_from: int | None = None) -> str:
        """A request down `chain`; services at and above index `failing_from` fail (the failure propagates
        up). The last service queries its datastore; that query times out when the chain fails."""
        trace_id = _hex(self.rng, 16)
        by_service: dict[str, list[dict[str, Any]]] = {}
        parent = None
        for depth, (service, operation) in enumerate(chain):
            failing = failing_from is not None and depth >= failing_from
            ms = 30_000.0 + depth if failing else self.rng.uniform(8, 40) / (depth + 1) + 5
            start = at + depth * 0.002
            server_id = _hex(self.rng, 8)
            by_service.setdefault(service, []).append(self._span(
                trace_id, server_id, parent, operation, 2, start, ms, failing,
                "503 Service Unavailable" if failing else None, {"http.response.status_code": 503 if failing else 200}))
            callee = chain[depth + 1][0] if depth + 1 < len(chain) else DATASTORES.get(service)
            if callee is None:
                break
            client_id = _hex(self.rng, 8)
            last = depth + 1 >= len(chain)
            db_failing = failing and last
            attributes = {"peer.service": callee}
            if last:
                attributes.update({"db.system": "postgresql" if callee.endswith("-db") else "elasticsearch",
                                   "db.name": callee})
            message = ("timeout acquiring connection from pool" if db_failing
                       else "upstream returned 503" if failing else None)
            by_service[service].append(self._span(
                trace_id, client_id, server_id, f"call {callee}" if not last else f"query {callee}", 3,
                start + 0.001, ms - 1, failing, message, attributes))
            parent = client_id
        for service, spans in by_service.items():
            self.emit(at + 0.5, OTLP_SPANS, {"resourceSpans": [{
                "resource": {"attributes": [_attr("service.name", service), _attr("deployment.environment", "prod"),
                                            _attr("k8s.namespace.name", "shop")]},
                "scopeSpans": [{"scope": {"name": "shop-instrumentation", "version": "1.0"}, "spans": spans}]}]})
        return trace_id

    @staticmethod
    def _span(trace_id: str, span_id: str, parent: str | None, name: str, kind: int, start: float, ms: float,
              error: bool, message: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
        return otlp_span(trace_id, span_id, parent, name, kind, _nanos(start), _nanos(start + ms / 1000),
                         message if error else None, attributes)

    # --- logs: JSON lines as Vector writes them ------------------------------------------------------
    def log(self, at: float, service: str, level: str, message: str, trace_id: str | None = None) -> None:
        line = {"timestamp": _rfc3339(at), "message": message, "level": level, "service": service,
                "host": f"{service}-{self.rng.choice(['7d9f', '5c2a', '9b1e'])}", "source_type": "kubernetes_logs"}
        if trace_id:
            line["trace_id"] = trace_id
        self.emit(at, RAW_LOGS, line, key=service)

    # --- alerts: Alertmanager webhook payloads -------------------------------------------------------
    def alert(self, at: float, name: str, service: str, severity: str, summary: str, description: str,
              starts: float, status: str = "firing", ends: float | None = None) -> None:
        labels = {"alertname": name, "service": service, "severity": severity, "namespace": "shop", "env": "prod"}
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        alert = {"status": status, "labels": labels,
                 "annotations": {"summary": summary, "description": description},
                 "startsAt": _rfc3339(starts), "endsAt": _rfc3339(ends) if ends is not None else "0001-01-01T00:00:00Z",
                 "generatorURL": f"http://prometheus.shop:9090/graph?g0.expr={name}", "fingerprint": fingerprint}
        self.emit(at, RAW_ALERTS, {
            "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0, "status": status,
            "receiver": "aiops", "groupLabels": {"alertname": name}, "commonLabels": labels,
            "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager.shop:9093",
            "alerts": [alert]}, key=fingerprint)

    def build(self) -> list[dict[str, Any]]:
        rng = self.rng
        t = 0.0
        while t < DURATION:
            failing = t >= FAILURE_AT
            trace_id = self.trace(t, CHAIN, failing_from=0 if failing and rng.random() < 0.8 else None)
            for chain in SIDE_CHAINS:
                if rng.random() < 0.6:
                    self.trace(t + 0.2, chain)
            self.log(t + 0.1, "web-frontend", "info", f"GET /product/{rng.randrange(1000, 9999)} 200 "
                                                      f"in {rng.randrange(20, 90)}ms")
            self.log(t + 0.2, "search-api", "info", f"query took {rng.randrange(5, 40)}ms hits={rng.randrange(0, 300)}")
            if not failing:
                self.log(t + 0.3, "orders-api", "info", f"order {rng.randrange(100000, 999999)} created "
                                                        f"in {rng.randrange(15, 60)}ms")
            else:
                waited = 30000 + rng.randrange(0, 40)
                self.log(t + 0.3, "orders-api", "error", f"timeout acquiring connection from pool after {waited}ms",
                         trace_id=trace_id)
                client = f"10.4.2.{rng.randrange(2, 250)}"
                self.log(t + 0.4, "orders-db", "error", "FATAL: remaining connection slots are reserved for "
                                                        f"non-replication superuser connections (client {client})")
                self.log(t + 0.5, "checkout-api", "error", f"upstream orders-api returned 503 (request "
                                                           f"{_hex(rng, 4)})", trace_id=trace_id)
            if failing and rng.random() < 0.5:
                self.log(t + 0.6, "orders-db", "warning", f"process {rng.randrange(1000, 9999)} still waiting for "
                                                          f"AccessExclusiveLock on relation orders after "
                                                          f"{rng.randrange(1000, 60000)}.{rng.randrange(100, 999)} ms")
            t += 1.0
        # Bad input a real pipeline sees: a line from a log shipper whose JSON parser is misconfigured, and a
        # truncated OTLP export. Both must end in dead-letter topics without stopping anything.
        self.lines.append({"at": 45.0, "topic": RAW_LOGS, "key": "orders-api",
                           "value_text": "2026-11-26 09:00:45 orders-api INFO health check ok"})
        self.lines.append({"at": 70.0, "topic": OTLP_SPANS, "key": None,
                           "value_text": '{"resourceSpans": [{"resource": {"attributes": ['})
        # A host whose clock is 15 minutes behind: its error is reported as late, not silently dropped.
        self.log(125.0, "backup-agent", "error", "backup upload to s3://shop-backups failed: RequestTimeout after "
                                                 "30000ms")
        self.lines[-1]["value"]["timestamp"] = _rfc3339(125.0 - 900)
        # Noise: an unrelated warning that fires and resolves before the failure.
        self.alert(30, "RecommendationLatencyHigh", "recommendation-api", "warning",
                   "recommendation-api p95 latency above 800ms", "Model reload in progress.", starts=28)
        self.alert(62, "RecommendationLatencyHigh", "recommendation-api", "warning",
                   "recommendation-api p95 latency above 800ms", "Model reload in progress.", starts=28,
                   status="resolved", ends=60)
        # The cascade, in the order the alerts' `for:` clauses let them fire.
        self.alert(100, "PostgresConnectionsNearLimit", "orders-db", "critical",
                   "orders-db is at 98% of max_connections",
                   "Sessions: 196/200; a migration holds AccessExclusiveLock on orders.", starts=96)
        self.alert(106, "OrdersApiHigh5xxRate", "orders-api", "critical", "orders-api 5xx ratio above 20%",
                   "Pool acquire timeouts on orders-db.", starts=103)
        self.alert(112, "CheckoutUpstreamErrors", "checkout-api", "high",
                   "checkout-api upstream errors from orders-api", "503s from orders-api.", starts=109)
        self.alert(118, "FrontendErrorRateHigh", "web-frontend", "warning", "web-frontend error rate above 5%",
                   "Checkout failing for users.", starts=115)
        return sorted(self.lines, key=lambda line: line["at"])


def main() -> None:
    print(json.dumps({"scenario": "shop-cascade", "recorded_at": RECORDED_AT.isoformat().replace("+00:00", "Z"),
                      "description": DESCRIPTION}))
    for line in Scenario().build():
        print(json.dumps(line, separators=(",", ":")))


if __name__ == "__main__":
    main()
