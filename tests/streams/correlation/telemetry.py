"""Canonical telemetry for scenario tests: spans of healthy traffic and of failures, alerts, log lines."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

from streams.records import Alert, LogRecord, Severity, Span

_ids = itertools.count(1)


class Clock:
    """Event time for a scenario: a base a little in the past, plus seconds."""

    def __init__(self) -> None:
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def at(self, seconds: float) -> datetime:
        return self.base + timedelta(seconds=seconds)


def _span(clock: Clock, trace: int, service: str, name: str, kind: str, start: float, ms: float,
          parent: str | None, status: str = "ok", peer: str | None = None, message: str | None = None) -> Span:
    return Span(trace_id=f"{trace:032x}", span_id=f"{next(_ids):016x}", parent_span_id=parent, service=service,
                name=name, kind=kind, start_time=clock.at(start), end_time=clock.at(start) + timedelta(milliseconds=ms),
                duration_ms=ms, status=status, status_message=message, peer_service=peer)


def call_chain(clock: Clock, trace: int, chain: list[tuple[str, str]], start: float, ms: float = 40.0,
               failing_from: int | None = None, message: str = "503 Service Unavailable") -> list[Span]:
    """One trace down a chain of (service, operation): each hop is a client span in the caller and a server
    span in the callee; the last service calls its datastore (peer) with a client span. Spans at and
    above `failing_from` (an index into chain) are errors, as a failure propagates up."""
    spans: list[Span] = []
    parent: str | None = None
    for depth, (service, operation) in enumerate(chain):
        failing = failing_from is not None and depth <= failing_from
        server = _span(clock, trace, service, operation, "server", start + depth * 0.01, ms, parent,
                       status="error" if failing else "ok", message=message if failing else None)
        spans.append(server)
        if depth + 1 < len(chain):
            callee = chain[depth + 1][0]
            client = _span(clock, trace, service, f"call {callee}", "client", start + depth * 0.01 + 0.001, ms,
                           server.span_id, status="error" if failing else "ok", peer=callee)
            spans.append(client)
            parent = client.span_id
    return spans


def datastore_call(clock: Clock, trace: int, service: str, store: str, start: float, parent: str | None,
                   failing: bool = False) -> Span:
    return _span(clock, trace, service, f"query {store}", "client", start, 30000.0 if failing else 5.0, parent,
                 status="error" if failing else "ok", peer=store,
                 message="timeout acquiring connection from pool" if failing else None)


def alert(clock: Clock, name: str, service: str, start: float, status: str = "firing", end: float | None = None,
          severity: Severity = Severity.critical, fingerprint: str | None = None) -> Alert:
    fingerprint = fingerprint or hashlib.sha256(f"{name}|{service}".encode()).hexdigest()[:16]
    return Alert(fingerprint=fingerprint, status=status, name=name,
                 severity=severity, service=service, labels={"alertname": name, "service": service},
                 annotations={"summary": f"{name} on {service}"}, starts_at=clock.at(start),
                 ends_at=clock.at(end) if end is not None else None, source="test", received_at=clock.at(start))


def log_line(clock: Clock, service: str, message: str, at: float, level: str = "info",
             trace_id: str | None = None) -> LogRecord:
    from streams.records import severity_from_text

    return LogRecord(time=clock.at(at), observed_time=clock.at(at), service=service,
                     severity=severity_from_text(level), level=level, message=message, trace_id=trace_id,
                     source="test")
