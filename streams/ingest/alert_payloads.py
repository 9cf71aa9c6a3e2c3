"""Alert webhook payloads as senders really write them, split into one standalone record per alert.

Two shapes, told apart by `version`:
- Prometheus Alertmanager's webhook, version "4" (every release since 0.16): a per-alert `fingerprint` only
  since 0.19, `truncatedAlerts` since 0.21, any UTF-8 in label names since 0.27; tools that imitate it often
  send no fingerprint and null for empty maps.
- Grafana Alerting's webhook, version "1" (Grafana 9 to 12): the same envelope plus `orgId`, `title`, `state`,
  `message`, and per alert `silenceURL`, `dashboardURL`, `panelURL`, `values` (refId -> number, null when
  none), `valueString` (until Grafana 10), `imageURL`, `orgId` and `extraData` when set.

Decisions are per alert: an alert that cannot be read is rejected on its own, with its position, and the
others of the payload go on. Only a payload without a readable list of alerts is refused whole. A missing
fingerprint is computed the way Alertmanager computes it, so that firing and resolved still pair up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat

from streams.ingest.errors import IngestError
from streams.ingest.fields import resolve_service
from streams.ingest.fingerprint import labels_fingerprint
from streams.ingest.json_input import json_type
from streams.ingest.times import parse_rfc3339
from streams.ingest.validation import validate
from streams.ingest.verdicts import Rejected

SOURCE_ALERTMANAGER = "alertmanager"
SOURCE_GRAFANA = "grafana"
VERSIONS = {"4": SOURCE_ALERTMANAGER, "1": SOURCE_GRAFANA}
# Payload fields each per-alert record carries along, so that it stands on its own (and says its shape).
CARRIED_FIELDS = ("version", "receiver", "groupKey", "externalURL", "commonLabels", "orgId")
# Grafana's per-alert links kept as evidence, under the names the canonical Alert uses.
GRAFANA_LINKS = {"dashboardURL": "dashboard", "panelURL": "panel", "silenceURL": "silence", "imageURL": "image"}


def _optional_rfc3339(value: object) -> datetime | None:
    # Alertmanager and Grafana write Go's zero time, 0001-01-01T00:00:00Z, for an end that is not set.
    if value is None or value == "":
        return None
    parsed = parse_rfc3339(value)
    return None if parsed.year == 1 else parsed


def _null_is_empty(empty: Any) -> BeforeValidator:
    # Go marshals a nil map as null; imitating tools write null for "none".
    return BeforeValidator(lambda value: empty if value is None else value)


Rfc3339 = Annotated[datetime, BeforeValidator(parse_rfc3339)]
OptionalRfc3339 = Annotated[datetime | None, BeforeValidator(_optional_rfc3339)]
TextMap = Annotated[dict[str, str], _null_is_empty({})]
Text = Annotated[str, _null_is_empty("")]
Status = Literal["firing", "resolved"]


class WebhookAlert(BaseModel):
    """One alert of an Alertmanager (or Grafana) webhook payload."""

    model_config = ConfigDict(extra="allow")

    status: Status
    labels: dict[str, str]
    annotations: TextMap = Field(default_factory=dict)
    startsAt: Rfc3339
    endsAt: OptionalRfc3339 = None
    generatorURL: Text = ""
    fingerprint: str | None = Field(None, min_length=1, max_length=256)


class GrafanaAlert(WebhookAlert):
    """One alert of a Grafana Alerting webhook payload (version 1)."""

    silenceURL: Text = ""
    dashboardURL: Text = ""
    panelURL: Text = ""
    imageURL: Text = ""
    values: Annotated[dict[str, StrictFloat], _null_is_empty({})] = Field(default_factory=dict)
    valueString: Text = ""

    def links(self) -> dict[str, str]:
        return {name: getattr(self, field) for field, name in GRAFANA_LINKS.items() if getattr(self, field)}


@dataclass(frozen=True)
class AlertItem:
    """One readable alert: where it sat, what it says, and the record that carries it on aiops.alerts.raw."""

    position: str
    source: str
    alert: WebhookAlert
    record: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return self.record["fingerprint"]

    def to_bytes(self) -> bytes:
        return to_json_bytes(self.record)


def to_json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def source_of(document: dict[str, Any], default: str = SOURCE_ALERTMANAGER) -> str:
    """Which sender's shape a payload or bridged alert has: by its version, else the default (the path it came on)."""
    version = document.get("version")
    return VERSIONS.get(version, default) if isinstance(version, str) else default


def guess_service(alert: object, service_labels: Sequence[str]) -> str | None:
    """The service an unreadable alert is about, when its labels still say it (for the dead letter)."""
    labels = alert.get("labels") if isinstance(alert, dict) else None
    if not isinstance(labels, dict):
        return None
    try:
        return resolve_service(labels, service_labels, "labels")
    except IngestError:
        return None


def read_alert(document: object, source: str, position: str = "") -> AlertItem:
    """One alert (a dict as sent, with any carried fields), validated, its fingerprint filled in when missing."""
    model = GrafanaAlert if source == SOURCE_GRAFANA else WebhookAlert
    alert = validate(model, document)
    record = dict(document)  # type: ignore[call-overload]
    if alert.fingerprint is None:
        record["fingerprint"] = labels_fingerprint(alert.labels)
        alert = alert.model_copy(update={"fingerprint": record["fingerprint"]})
    return AlertItem(position, source, alert, record)


def split_payload(document: dict[str, Any], default_source: str,
                  service_labels: Sequence[str]) -> tuple[list[AlertItem], list[Rejected]]:
    """Each alert of a webhook payload judged on its own: the readable ones, and the rest with their reasons.

    Raises IngestError only when the payload has no list of alerts at all.
    """
    alerts = document.get("alerts")
    if alerts is None:
        raise IngestError("alerts: missing")
    if not isinstance(alerts, list):
        raise IngestError(f"alerts: expected an array, got {json_type(alerts)}")
    if not alerts:
        raise IngestError("alerts: expected at least 1 item(s)")
    source = source_of(document, default_source)
    carried = {name: document[name] for name in CARRIED_FIELDS if name in document}
    items: list[AlertItem] = []
    rejected: list[Rejected] = []
    for index, alert in enumerate(alerts):
        position = f"alerts[{index}]"
        standalone = {**alert, **carried} if isinstance(alert, dict) else alert
        try:
            if not isinstance(alert, dict):
                raise IngestError(f"expected an object, got {json_type(alert)}")
            items.append(read_alert(standalone, source, position))
        except IngestError as exc:
            rejected.append(Rejected(position, exc.reason, guess_service(alert, service_labels),
                                     to_json_bytes(standalone)))
    return items, rejected
