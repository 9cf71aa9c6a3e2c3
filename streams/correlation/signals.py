"""The records on the internal `aiops.signals` topic: what the per-service stages tell the correlator.

Alerts pass through whole; logs and spans are first condensed (template surges, error and slow spans,
dependency edges) so that the correlator sees a few signals instead of every line and span.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from aiops.core.limits import cap_map, cap_text
from streams.correlation.incident import (
    MAX_ENTRY_CHARS,
    MAX_SPAN_ATTRIBUTES,
    AnomalyFacts,
    LogEvidence,
    SpanEvidence,
)
from streams.records import Alert, Placement, Severity


class _Signal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AlertSignal(_Signal):
    kind: Literal["alert"] = "alert"
    alert: Alert

    @property
    def event_time(self) -> datetime:
        return self.alert.ends_at if self.alert.status == "resolved" and self.alert.ends_at else self.alert.starts_at


class LogSignal(_Signal):
    """A log template that surged against its baseline, or is new at error level."""

    kind: Literal["log"] = "log"
    service: str
    template_id: str
    template: str
    level: str
    severity: Severity
    count: int
    baseline_per_min: float | None = None
    reason: str
    examples: list[str] = Field(default_factory=list)
    trace_ids: list[str] = Field(default_factory=list)
    event_time: datetime
    placements: list[Placement] = Field(default_factory=list)  # the pods, nodes, versions that logged it

    def as_evidence(self) -> LogEvidence:
        return LogEvidence(
            service=self.service, template_id=self.template_id, template=cap_text(self.template, MAX_ENTRY_CHARS),
            level=self.level, count=self.count, baseline_per_min=self.baseline_per_min, reason=self.reason,
            examples=[cap_text(example, MAX_ENTRY_CHARS) for example in self.examples[:3]])


class SpanSignal(_Signal):
    """An error span, or one far slower than its operation's baseline."""

    kind: Literal["span"] = "span"
    trace_id: str
    span_id: str
    service: str
    operation: str
    evidence: Literal["error", "slow"]
    duration_ms: float
    baseline_ms: float | None = None
    message: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    event_time: datetime
    placement: Placement | None = None  # where the span ran
    exception_type: str | None = None  # the span's first exception event
    exception_message: str | None = None
    exception_stacktrace: str | None = None

    def as_evidence(self) -> SpanEvidence:
        return SpanEvidence(
            trace_id=self.trace_id, span_id=self.span_id, service=self.service, operation=self.operation,
            kind=self.evidence, duration_ms=self.duration_ms, baseline_ms=self.baseline_ms, message=self.message,
            attributes=cap_map(self.attributes, MAX_SPAN_ATTRIBUTES, MAX_ENTRY_CHARS), event_time=self.event_time,
            exception_type=self.exception_type, exception_message=self.exception_message,
            exception_stacktrace=self.exception_stacktrace)


class EdgeSignal(_Signal):
    """Calls from one service to another seen in spans since the last edge signal."""

    kind: Literal["edge"] = "edge"
    caller: str
    callee: str
    calls: int
    errors: int
    event_time: datetime


class AnomalySignal(AnomalyFacts, _Signal):
    """A service behaving unlike its own baseline, from spans, log patterns or metrics, with a score and the
    reason in words. `role` says how to read it: a cause is the service's own misbehaviour (own time, time on
    the wire into it, errors of its own, a changed log pattern, a saturated resource); a symptom is what a
    service shows when something it depends on misbehaves (its latency, as it or its callers see it)."""

    kind: Literal["anomaly"] = "anomaly"
    role: Literal["cause", "symptom"]
    window_start: datetime
    event_time: datetime  # end of the window judged

    @property
    def key(self) -> str:
        return f"{self.service}|{self.signal}|{self.subject}|{self.peer or ''}"


class TickSignal(_Signal):
    """Wall-clock tick sent by the correlator's own timer, so time-based work runs inside the stream."""

    kind: Literal["tick"] = "tick"
    now: float


Signal = Annotated[AlertSignal | LogSignal | SpanSignal | EdgeSignal | AnomalySignal | TickSignal,
                   Field(discriminator="kind")]


class SignalEnvelope(BaseModel):
    signal: Signal


def encode_signal(signal: _Signal) -> bytes:
    return SignalEnvelope(signal=signal).model_dump_json().encode()


def decode_signal(data: bytes) -> AlertSignal | LogSignal | SpanSignal | EdgeSignal | AnomalySignal | TickSignal:
    return SignalEnvelope.model_validate_json(data).signal
