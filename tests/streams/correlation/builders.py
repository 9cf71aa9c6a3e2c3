"""Builders for correlation scenarios: canonical alerts, and the signals the per-service stages emit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from streams.correlation.signals import AlertSignal, EdgeSignal, LogSignal, SpanSignal
from streams.records import Alert, Severity

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)

# The shop's call graph (caller → callee), as spans would teach it.
SHOP_EDGES = [
    ("web-frontend", "api-gateway"), ("api-gateway", "checkout-api"), ("api-gateway", "search-api"),
    ("checkout-api", "orders-api"), ("checkout-api", "payments-api"), ("orders-api", "orders-db"),
    ("payments-api", "payments-db"), ("search-api", "search-es"),
]
CASCADE_EDGES = [("web-frontend", "orders-api"), ("orders-api", "orders-db"),
                 ("inventory-api", "inventory-db"), ("notification-worker", "mail-relay")]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(name: str, service: str, start: float, status: str = "firing", end: float | None = None,
          severity: Severity = Severity.critical, trace_id: str | None = None, salt: str = "") -> Alert:
    fingerprint = hashlib.sha256(f"{name}|{service}|{salt}".encode()).hexdigest()[:16]
    return Alert(fingerprint=fingerprint, status=status, name=name, severity=severity, service=service,
                 labels={"alertname": name, "service": service}, annotations={"summary": f"{name} on {service}"},
                 starts_at=at(start), ends_at=at(end) if end is not None else None, source="test",
                 trace_id=trace_id, received_at=at(start + 1))


def edges(pairs, when: float = 0.0, calls: int = 100, errors: int = 0) -> list[EdgeSignal]:
    return [EdgeSignal(caller=a, callee=b, calls=calls, errors=errors, event_time=at(when)) for a, b in pairs]


def error_span(service: str, operation: str, when: float, trace: int, span: int,
               message: str = "503 Service Unavailable") -> SpanSignal:
    return SpanSignal(trace_id=f"{trace:032x}", span_id=f"{span:016x}", service=service, operation=operation,
                      evidence="error", duration_ms=30000.0, baseline_ms=40.0, message=message, event_time=at(when))


def log_surge(service: str, template: str, when: float, count: int = 120, level: str = "error",
              trace_ids: list[str] | None = None) -> LogSignal:
    return LogSignal(service=service, template_id=hashlib.sha1(template.encode()).hexdigest()[:8],
                     template=template, level=level, severity=Severity.error, count=count, baseline_per_min=0.5,
                     reason=f"surge: {count} in the last 1 min vs baseline 0.5/min",
                     examples=[template.replace("<NUM>", "30000")], trace_ids=trace_ids or [], event_time=at(when))


def cascade() -> list:
    """orders-db fails first; orders-api (its caller) and web-frontend (the API's caller) follow."""
    trace = 0xABC
    return [
        *edges(CASCADE_EDGES),
        log_surge("orders-db", "FATAL: remaining connection slots are reserved for <*>", 5),
        AlertSignal(alert=alert("PostgresConnectionsNearLimit", "orders-db", 10)),
        log_surge("orders-api", "timeout acquiring connection from pool after <NUM>ms", 20,
                  trace_ids=[f"{trace:032x}"]),
        error_span("orders-api", "GET /orders", 25, trace, 2),
        error_span("web-frontend", "GET /checkout", 25, trace, 1, message="upstream orders-api returned 503"),
        AlertSignal(alert=alert("OrdersApiHigh5xxRate", "orders-api", 40)),
        AlertSignal(alert=alert("FrontendErrorRateHigh", "web-frontend", 60, severity=Severity.error)),
    ]
