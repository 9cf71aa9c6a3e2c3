"""The condensed records between the stages: log events joined to spans, and per-bucket span statistics.

`LogEvent`: one log line reduced to its template, keyed by trace id so that it meets its spans.
`SpanStats`: what one service's spans did in one event-time bucket, keyed by service for the detector.
Both are JSON on internal topics; sample lists are bounded by the condenser.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from streams.records import Severity


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogEvent(_Record):
    trace_id: str
    span_id: str | None = None
    service: str
    template_id: str
    template: str
    severity: Severity = Severity.unknown
    time: datetime


class OpStats(_Record):
    """One operation of the service. `spans` counts every span of it; the rest only spans that enter the
    service (server side: no parent, or a parent in another service)."""

    op: str
    spans: int = 0
    entries: int = 0
    errors: int = 0  # entries that failed (the rest succeeded: their log events are in `templates`)
    own_errors: int = 0  # failed without a failing call to another service below them
    latency_ms: list[float] = Field(default_factory=list)  # samples of the entry span's duration
    self_ms: list[float] = Field(default_factory=list)  # samples of own time: duration minus calls out
    slowest_trace: str | None = None


class EdgeStats(_Record):
    """Calls into the service from one caller, timed from both sides: the caller's client span and the
    service's own server span; `gap_ms` (client minus server) is time on the wire and in queues."""

    caller: str
    calls: int = 0
    errors: int = 0
    client_ms: list[float] = Field(default_factory=list)
    server_ms: list[float] = Field(default_factory=list)
    gap_ms: list[float] = Field(default_factory=list)
    slowest_trace: str | None = None


class TemplateStats(_Record):
    """How many successful requests entering the service by `op` logged this event type (each counted once)."""

    op: str
    template_id: str
    template: str
    severity: Severity = Severity.unknown
    spans: int = 0


class SpanStats(_Record):
    service: str
    bucket_start: datetime
    bucket_s: int
    logs_settled: bool = True  # log lines had arrived past this bucket when it closed (patterns can be judged)
    ops: list[OpStats] = Field(default_factory=list)
    edges: list[EdgeStats] = Field(default_factory=list)
    templates: list[TemplateStats] = Field(default_factory=list)
