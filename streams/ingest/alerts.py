"""Alerts on aiops.alerts.raw read into canonical Alert records: Alertmanager and Grafana webhook payloads,
single alerts as the bridge writes them (one per record, with the payload fields it carries), and the generic
JSON alert.

Which format a message is: an object with `alerts` is a webhook payload (its `version` says whose); an object
with `startsAt` is one webhook alert; anything else is read as the generic format (README, "Feeding it").
A payload is judged alert by alert (streams/ingest/alert_payloads.py); a single alert or a generic one is the
whole message, so it is dead-lettered whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from aiops.core.settings import Settings
from streams.ingest.alert_payloads import (
    SOURCE_ALERTMANAGER,
    AlertItem,
    GrafanaAlert,
    guess_service,
    read_alert,
    source_of,
    split_payload,
)
from streams.ingest.errors import IngestError
from streams.ingest.fields import check_fields, normalize_trace_id, resolve_service
from streams.ingest.fingerprint import labels_fingerprint
from streams.ingest.json_input import load_json_object
from streams.ingest.severity import SeverityScale
from streams.ingest.times import parse_event_time
from streams.ingest.validation import build, validate
from streams.ingest.verdicts import Decoded, Rejected
from streams.records import Alert

__all__ = ["SOURCE_ALERTMANAGER", "SOURCE_GENERIC", "decode_alerts", "labels_fingerprint"]

SOURCE_GENERIC = "generic"
# Grafana's own name for the evaluated values as text (Grafana 9, before `values`), kept among the annotations.
VALUE_STRING_ANNOTATION = "__value_string__"


def _any_time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_event_time(value)
    return None if parsed.year == 1 else parsed


AnyTime = Annotated[datetime | None, BeforeValidator(_any_time)]
Status = Literal["firing", "resolved"]


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


def _from_webhook(item: AlertItem, settings: Settings, scale: SeverityScale, received_at: datetime) -> Alert:
    alert = item.alert
    name = alert.labels.get("alertname", "")
    if not name:
        raise IngestError("no alertname label")
    service = resolve_service(alert.labels, settings.service_labels, "labels")
    annotations, values, links = dict(alert.annotations), {}, {}
    if isinstance(alert, GrafanaAlert):
        values, links = alert.values, alert.links()
        if alert.valueString:
            annotations.setdefault(VALUE_STRING_ANNOTATION, alert.valueString)
    return build(
        Alert,
        fingerprint=alert.fingerprint, status=alert.status, name=name, severity=scale.of_labels(alert.labels),
        service=service, labels=alert.labels, annotations=annotations, starts_at=alert.startsAt,
        ends_at=alert.endsAt, source=item.source, generator_url=alert.generatorURL or None,
        trace_id=normalize_trace_id(alert.labels.get("trace_id") or alert.annotations.get("trace_id")),
        received_at=received_at, values=values, links=links,
    )


def _from_generic(alert: GenericAlert, settings: Settings, scale: SeverityScale, received_at: datetime) -> Alert:
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
    return build(
        Alert,
        fingerprint=alert.fingerprint or labels_fingerprint(labels), status=alert.status, name=alert.name,
        severity=scale.of_labels(labels, alert.severity), service=service, labels=labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at or received_at, ends_at=alert.ends_at, source=alert.source,
        generator_url=alert.generator_url or None,
        trace_id=normalize_trace_id(alert.trace_id or labels.get("trace_id") or alert.annotations.get("trace_id")),
        received_at=received_at,
    )


def decode_alerts(value: bytes | None, settings: Settings, received_at: datetime | None = None) -> Decoded[Alert]:
    """One message on aiops.alerts.raw into its canonical alerts (a webhook payload may hold several).

    The alerts of a payload are judged one by one: those that cannot be read are in `rejected`, each with its
    position, service and the alert alone as a record. A message that is unreadable as a whole (not JSON, a
    payload without alerts, a single alert or generic alert with a fault) raises IngestError with the reason.
    """
    received_at = received_at or datetime.now(UTC)
    scale = SeverityScale.from_settings(settings)
    limit = settings.ingest_max_field_bytes
    document: dict[str, Any] = load_json_object(value, settings.ingest_max_message_bytes)
    if "alerts" in document:
        items, rejected = split_payload(document, SOURCE_ALERTMANAGER, settings.service_labels)
        alerts = []
        for item in items:
            try:
                alerts.append(check_fields(_from_webhook(item, settings, scale, received_at), limit))
            except IngestError as exc:
                rejected.append(Rejected(item.position, exc.reason, guess_service(item.record, settings.service_labels),
                                         item.to_bytes()))
        rejected.sort(key=lambda r: int(r.position[7:-1]))  # alerts[N], in payload order
        return Decoded(alerts, rejected)
    if "startsAt" in document:
        item = read_alert(document, source_of(document))
        return Decoded([check_fields(_from_webhook(item, settings, scale, received_at), limit)])
    return Decoded([check_fields(_from_generic(validate(GenericAlert, document), settings, scale, received_at), limit)])
