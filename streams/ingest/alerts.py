"""Alerts on aiops.alerts.raw: Alertmanager webhook payloads, single Alertmanager alerts (as the bridge writes
them) and the generic JSON alert, each read into canonical Alert records.

Which format a message is: an object with `alerts` is a webhook payload (version "4"); an object with
`startsAt` is one Alertmanager alert; anything else is read as the generic format (README, "Feeding it").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from aiops.core.settings import Settings
from streams.ingest.errors import IngestError
from streams.ingest.fields import check_fields, normalize_trace_id, resolve_service
from streams.ingest.json_input import load_json_object
from streams.ingest.times import parse_event_time, parse_rfc3339
from streams.ingest.validation import build, validate
from streams.records import Alert, severity_from_text

SOURCE_ALERTMANAGER = "alertmanager"
SOURCE_GENERIC = "generic"
_FNV64_OFFSET = 14695981039346656037
_FNV64_PRIME = 1099511628211
_LABEL_SEPARATOR = 0xFF


def _rfc3339(value: object) -> datetime:
    return parse_rfc3339(value)


def _optional_rfc3339(value: object) -> datetime | None:
    # Alertmanager writes Go's zero time, 0001-01-01T00:00:00Z, for an end that is not set.
    if value is None or value == "":
        return None
    parsed = parse_rfc3339(value)
    return None if parsed.year == 1 else parsed


def _any_time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_event_time(value)
    return None if parsed.year == 1 else parsed


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]
OptionalRfc3339 = Annotated[datetime | None, BeforeValidator(_optional_rfc3339)]
AnyTime = Annotated[datetime | None, BeforeValidator(_any_time)]
Status = Literal["firing", "resolved"]


class WebhookAlert(BaseModel):
    """One alert in an Alertmanager webhook payload (version 4)."""

    model_config = ConfigDict(extra="allow")

    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Rfc3339
    endsAt: OptionalRfc3339 = None
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1, max_length=256)


class WebhookPayload(BaseModel):
    """Alertmanager's webhook payload, version 4 (https://prometheus.io/docs/alerting/latest/configuration/)."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int = 0
    status: Status
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[WebhookAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    """The generic JSON alert for tools other than Alertmanager (documented in the README)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    status: Status = "firing"
    severity: str | None = None
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AnyTime = None
    ends_at: AnyTime = None
    fingerprint: str | None = Field(None, min_length=1, max_length=256)
    trace_id: str | None = None
    generator_url: str | None = None
    source: str = Field(SOURCE_GENERIC, min_length=1)


def labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (prometheus/common `LabelSet.Fingerprint`):
    FNV-1a 64 over the names in byte order, each name and value followed by 0xff, as 16 hex digits."""
    digest = _FNV64_OFFSET
    for name in sorted(labels, key=lambda n: n.encode("utf-8", "surrogatepass")):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass") + bytes([_LABEL_SEPARATOR]):
                digest = ((digest ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def _from_alertmanager(alert: WebhookAlert, settings: Settings, received_at: datetime, where: str) -> Alert:
    prefix = f"{where}: " if where else ""
    name = alert.labels.get("alertname", "")
    if not name:
        raise IngestError(f"{prefix}no alertname label")
    try:
        service = resolve_service(alert.labels, settings.service_labels, "labels")
    except IngestError as exc:
        raise IngestError(f"{prefix}{exc.reason}") from None
    return build(
        Alert, where,
        fingerprint=alert.fingerprint, status=alert.status, name=name,
        severity=severity_from_text(alert.labels.get("severity")), service=service,
        labels=alert.labels, annotations=alert.annotations, starts_at=alert.startsAt, ends_at=alert.endsAt,
        source=SOURCE_ALERTMANAGER, generator_url=alert.generatorURL or None,
        trace_id=normalize_trace_id(alert.labels.get("trace_id") or alert.annotations.get("trace_id")),
        received_at=received_at,
    )


def _from_generic(alert: GenericAlert, settings: Settings, received_at: datetime) -> Alert:
    labels = dict(alert.labels)
    labels.setdefault("alertname", alert.name)
    if alert.service and alert.service.strip():
        labels.setdefault("service", alert.service.strip())
        service = alert.service.strip()
    else:
        try:
            service = resolve_service(labels, settings.service_labels, "labels")
        except IngestError as exc:
            raise IngestError(f"{exc.reason} (and no field service)") from None
    severity = alert.severity if alert.severity is not None else labels.get("severity")
    return build(
        Alert,
        fingerprint=alert.fingerprint or labels_fingerprint(labels), status=alert.status, name=alert.name,
        severity=severity_from_text(severity), service=service, labels=labels, annotations=alert.annotations,
        starts_at=alert.starts_at or received_at, ends_at=alert.ends_at, source=alert.source,
        generator_url=alert.generator_url or None,
        trace_id=normalize_trace_id(alert.trace_id or labels.get("trace_id") or alert.annotations.get("trace_id")),
        received_at=received_at,
    )


def decode_alerts(value: bytes | None, settings: Settings, received_at: datetime | None = None) -> list[Alert]:
    """One message on aiops.alerts.raw into its canonical alerts (a webhook payload may hold several).

    Raises IngestError with the reason; the message is then dead-lettered whole.
    """
    received_at = received_at or datetime.now(UTC)
    document: dict[str, Any] = load_json_object(value, settings.ingest_max_message_bytes)
    if "alerts" in document:
        payload = validate(WebhookPayload, document)
        alerts = [_from_alertmanager(alert, settings, received_at, f"alerts[{i}]")
                  for i, alert in enumerate(payload.alerts)]
    elif "startsAt" in document:
        alerts = [_from_alertmanager(validate(WebhookAlert, document), settings, received_at, "")]
    else:
        alerts = [_from_generic(validate(GenericAlert, document), settings, received_at)]
    return [check_fields(alert, settings.ingest_max_field_bytes) for alert in alerts]
