"""The canonical records every input is normalised into, validated with pydantic.

Their Avro contracts are in schemas/ (alert.avsc, log_record.avsc, span.avsc); `to_avro()` gives the
dict the Avro codec writes, `from_avro()` reads one back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    unknown = "unknown"


# One scale for every source: Alertmanager severity labels, syslog-style levels, OTLP severity text.
SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.critical, "crit": Severity.critical, "fatal": Severity.critical,
    "emergency": Severity.critical, "emerg": Severity.critical, "alert": Severity.critical,
    "page": Severity.critical, "p1": Severity.critical, "sev1": Severity.critical, "panic": Severity.critical,
    "high": Severity.error, "major": Severity.error, "error": Severity.error, "err": Severity.error,
    "p2": Severity.error, "sev2": Severity.error,
    "warning": Severity.warning, "warn": Severity.warning, "medium": Severity.warning, "minor": Severity.warning,
    "p3": Severity.warning, "sev3": Severity.warning,
    "info": Severity.info, "information": Severity.info, "informational": Severity.info, "notice": Severity.info,
    "low": Severity.info, "none": Severity.info, "debug": Severity.info, "trace": Severity.info,
    "p4": Severity.info, "sev4": Severity.info, "p5": Severity.info, "sev5": Severity.info, "ok": Severity.info,
}


def severity_from_text(text: object) -> Severity:
    """Map a severity or level word from any source onto the one scale (unknown words → unknown)."""
    if not isinstance(text, str):
        return Severity.unknown
    return SEVERITY_WORDS.get(text.strip().lower(), Severity.unknown)


def severity_from_otlp_number(number: int) -> Severity:
    """OTLP SeverityNumber: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL."""
    if number >= 21:
        return Severity.critical
    if number >= 17:
        return Severity.error
    if number >= 13:
        return Severity.warning
    if number >= 1:
        return Severity.info
    return Severity.unknown


def utc(value: datetime) -> datetime:
    """Timestamps are kept in UTC; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CanonicalRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_avro(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        return cls.model_validate(record)


class Alert(CanonicalRecord):
    fingerprint: str = Field(min_length=1, max_length=256)
    status: str = Field(pattern="^(firing|resolved)$")
    name: str = Field(min_length=1)
    severity: Severity = Severity.unknown
    service: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    source: str
    generator_url: str | None = None
    trace_id: str | None = None
    received_at: datetime
    # Grafana Alerting: the query values at evaluation, and links to the dashboard, panel, silence and image.
    values: dict[str, float] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)

    _utc = field_validator("starts_at", "ends_at", "received_at")(
        classmethod(lambda cls, v: None if v is None else utc(v)))


class Resource(BaseModel):
    """Where a record came from: the OpenTelemetry resource's semantic-convention attributes by name, and every
    resource attribute as text (service.name, cloud.*, container.*, ... stay in `attributes`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_namespace: str | None = None
    service_version: str | None = None
    service_instance_id: str | None = None
    deployment_environment: str | None = None  # deployment.environment.name, or the older deployment.environment
    host_name: str | None = None
    k8s_namespace: str | None = None
    k8s_pod: str | None = None
    k8s_node: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class InstrumentationScope(BaseModel):
    """The library that made the record (OTLP's instrumentation scope)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    version: str | None = None


def _resource_or_empty(value: Any) -> Any:
    return Resource() if value is None else value  # records written before the resource was kept


class Placement(BaseModel):
    """Where a service ran, as an incident names it: environment, namespace, pod, node, host and version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str
    environment: str | None = None
    namespace: str | None = None
    pod: str | None = None
    node: str | None = None
    host: str | None = None
    version: str | None = None

    @classmethod
    def of(cls, service: str, resource: Resource) -> Placement:
        return cls(service=service, environment=resource.deployment_environment, namespace=resource.k8s_namespace,
                   pod=resource.k8s_pod, node=resource.k8s_node, host=resource.host_name,
                   version=resource.service_version)

    @property
    def known(self) -> bool:
        return any((self.environment, self.namespace, self.pod, self.node, self.host, self.version))


class LogRecord(CanonicalRecord):
    time: datetime
    observed_time: datetime
    service: str = Field(min_length=1)
    severity: Severity = Severity.unknown
    level: str = ""
    message: str
    trace_id: str | None = None
    span_id: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    source: str
    resource: Resource = Field(default_factory=Resource)
    scope: InstrumentationScope | None = None

    _utc = field_validator("time", "observed_time")(classmethod(lambda cls, v: utc(v)))
    _resource = field_validator("resource", mode="before")(classmethod(lambda cls, v: _resource_or_empty(v)))


class SpanKind(StrEnum):
    unspecified = "unspecified"
    internal = "internal"
    server = "server"
    client = "client"
    producer = "producer"
    consumer = "consumer"


class SpanEvent(BaseModel):
    """A span event; an exception is the event named "exception" with exception.type, .message, .stacktrace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    time: datetime
    attributes: dict[str, str] = Field(default_factory=dict)

    _utc = field_validator("time")(classmethod(lambda cls, v: utc(v)))

    @property
    def is_exception(self) -> bool:
        return self.name == "exception" or "exception.type" in self.attributes


class SpanLink(BaseModel):
    """A link to another span (a batch consumer's producers, a retried request's first attempt)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trace_id: str = Field(pattern="^[0-9a-f]{32}$")
    span_id: str = Field(pattern="^[0-9a-f]{16}$")
    attributes: dict[str, str] = Field(default_factory=dict)


class Span(CanonicalRecord):
    trace_id: str = Field(pattern="^[0-9a-f]{32}$")
    span_id: str = Field(pattern="^[0-9a-f]{16}$")
    parent_span_id: str | None = None
    service: str = Field(min_length=1)
    name: str
    kind: SpanKind = SpanKind.unspecified
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: str = Field("unset", pattern="^(unset|ok|error)$")
    status_message: str | None = None
    peer_service: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    resource: Resource = Field(default_factory=Resource)
    scope: InstrumentationScope | None = None
    events: list[SpanEvent] = Field(default_factory=list)
    links: list[SpanLink] = Field(default_factory=list)

    _utc = field_validator("start_time", "end_time")(classmethod(lambda cls, v: utc(v)))
    _resource = field_validator("resource", mode="before")(classmethod(lambda cls, v: _resource_or_empty(v)))

    @property
    def exception(self) -> SpanEvent | None:
        """The first exception recorded on the span, if any."""
        return next((event for event in self.events if event.is_exception), None)


class MetricKind(StrEnum):
    gauge = "gauge"
    counter = "counter"
    histogram = "histogram"


class MetricPoint(CanonicalRecord):
    service: str = Field(min_length=1)
    instance: str | None = None
    name: str = Field(min_length=1)
    unit: str = ""
    kind: MetricKind = MetricKind.gauge
    value: float
    count: int | None = None
    delta: bool = False
    time: datetime
    attributes: dict[str, str] = Field(default_factory=dict)

    _utc = field_validator("time")(classmethod(lambda cls, v: utc(v)))
