"""Builders for span-stage tests: canonical spans without kinds or status (as real exports often are), log events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from streams.anomaly.records import LogEvent
from streams.records import Severity, Span, SpanKind

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
_ids = itertools.count(1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def span(trace: int, service: str, name: str, start: float, ms: float, parent: Span | None = None,
         kind: SpanKind = SpanKind.unspecified, status: str = "unset", peer: str | None = None) -> Span:
    return Span(trace_id=f"{trace:032x}", span_id=f"{next(_ids):016x}",
                parent_span_id=parent.span_id if parent else None, service=service, name=name, kind=kind,
                start_time=at(start), end_time=at(start) + timedelta(milliseconds=ms), duration_ms=ms,
                status=status, peer_service=peer)


def request(trace: int, start: float, *, gateway_ms: float = 50.0, gap_ms: float = 2.0, orders_ms: float = 30.0,
            db_ms: float = 5.0, orders_error: bool = False) -> list[Span]:
    """gateway "/*" → its client span "HTTP POST" → orders-api "POST /orders" → its own "SELECT orders" span."""
    root = span(trace, "gateway", "/*", start, gateway_ms)
    client = span(trace, "gateway", "HTTP POST", start + 0.001, orders_ms + gap_ms, root)
    server = span(trace, "orders-api", "POST /orders", start + 0.001 + gap_ms / 2000, orders_ms, client)
    db = span(trace, "orders-api", "SELECT orders", start + 0.002 + gap_ms / 2000, db_ms, server,
              status="error" if orders_error else "unset")
    return [root, client, server, db]


def line(owner: Span, location: str, text: str = "order created", severity: Severity = Severity.info) -> LogEvent:
    return LogEvent(trace_id=owner.trace_id, span_id=owner.span_id, service=owner.service,
                    template_id=f"@{location}", template=f"{text} (at {location})", severity=severity,
                    time=owner.start_time)
