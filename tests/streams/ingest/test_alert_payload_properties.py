"""Property tests over the webhook payload shapes of Alertmanager 0.16 to 0.31 and Grafana 9 to 12 (from their
documented formats and the senders' own structs), with unreadable alerts mixed in: every alert of a payload is
either read (a record for aiops.alerts.raw with a fingerprint, then a canonical Alert) or rejected with its
position and a reason; none vanish, and the good ones never pay for the bad ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops.core.settings import Settings
from streams.ingest.alert_payloads import CARRIED_FIELDS, SOURCE_ALERTMANAGER, split_payload
from streams.ingest.alerts import decode_alerts
from streams.ingest.fingerprint import labels_fingerprint

SETTINGS = Settings()
NOW = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)
ALERTMANAGER_RELEASES = ("0.16", "0.18", "0.19", "0.20", "0.21", "0.25", "0.27", "0.31")
GRAFANA_RELEASES = ("9", "10", "11", "12")

classic_name = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
utf8_name = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=16)
label_value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@st.composite
def good_alert(draw, names: st.SearchStrategy[str]) -> dict[str, Any]:
    labels = draw(st.dictionaries(names, label_value, max_size=6))
    labels["alertname"] = draw(st.text(min_size=1, max_size=20).filter(str.strip))
    labels[draw(st.sampled_from(SETTINGS.service_labels))] = draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}",
                                                                                fullmatch=True))
    status = draw(st.sampled_from(["firing", "resolved"]))
    starts = draw(times)
    ends = draw(times) if status == "resolved" else None
    return {"status": status, "labels": labels,
            "annotations": draw(st.one_of(st.none(), st.dictionaries(classic_name, label_value, max_size=3))),
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": ends.isoformat().replace("+00:00", "Z") if ends else "0001-01-01T00:00:00Z",
            "generatorURL": draw(st.sampled_from(["", "http://prometheus:9090/graph?g0.expr=up\u0026g0.tab=1"]))}


BAD_ALERTS = st.sampled_from([
    None, 7, "firing", [],
    {"status": "firing"},
    {"status": "pending", "labels": {"alertname": "A", "service": "s"}, "startsAt": "2026-11-26T10:00:00Z"},
    {"status": "firing", "labels": ["alertname"], "startsAt": "2026-11-26T10:00:00Z"},
    {"status": "firing", "labels": {"alertname": "A", "service": 3}, "startsAt": "2026-11-26T10:00:00Z"},
    {"status": "firing", "labels": {"alertname": "A", "service": "s"}, "startsAt": "now"},
    {"status": "firing", "labels": {"alertname": "A", "service": "s"}, "startsAt": "2026-11-26T10:00:00Z",
     "fingerprint": 12},
])
# Readable as webhook alerts, but not as canonical alerts: no alertname, no service.
UNPLACEABLE_ALERTS = st.sampled_from([
    {"status": "firing", "labels": {"service": "s"}, "startsAt": "2026-11-26T10:00:00Z"},
    {"status": "firing", "labels": {"alertname": "A", "instance": "db-1:9100"}, "startsAt": "2026-11-26T10:00:00Z"},
])


@st.composite
def alertmanager_payload(draw) -> dict[str, Any]:
    release = _release(draw(st.sampled_from(ALERTMANAGER_RELEASES)))
    names = utf8_name if release >= (0, 27) else classic_name
    alerts = draw(st.lists(st.one_of(good_alert(names), BAD_ALERTS, UNPLACEABLE_ALERTS), min_size=1, max_size=8))
    for alert in alerts:
        if release >= (0, 19) and isinstance(alert, dict) and isinstance(alert.get("labels"), dict) \
                and all(isinstance(v, str) for v in alert["labels"].values()) and "fingerprint" not in alert:
            alert["fingerprint"] = labels_fingerprint(alert["labels"])
    payload = {"receiver": "aiops", "status": "firing", "alerts": alerts, "groupLabels": {},
               "commonLabels": draw(st.one_of(st.none(), st.just({"env": "prod"}))),
               "commonAnnotations": draw(st.one_of(st.none(), st.just({}))),
               "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": "{}:{}"}
    if release >= (0, 21):
        payload["truncatedAlerts"] = draw(st.integers(0, 3))
    return payload


@st.composite
def grafana_payload(draw) -> dict[str, Any]:
    release = int(draw(st.sampled_from(GRAFANA_RELEASES)))
    alerts = draw(st.lists(st.one_of(good_alert(utf8_name), BAD_ALERTS, UNPLACEABLE_ALERTS), min_size=1, max_size=8))
    for alert in alerts:
        if not isinstance(alert, dict):
            continue
        alert.update(silenceURL="http://grafana/alerting/silence/new", dashboardURL=draw(st.sampled_from(
            ["", "http://grafana/d/x"])), panelURL="", valueString="[ var='A' value=1 ]" if release < 11 else "")
        alert["values"] = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from("ABC"), st.floats(
            allow_nan=False, allow_infinity=False) | st.integers(-5, 5), max_size=3)))
        if release >= 10 and draw(st.booleans()):
            alert["orgId"] = 1
        if release >= 11 and draw(st.booleans()):
            alert["imageURL"] = "http://grafana/public/img/a.png"
        if isinstance(alert.get("labels"), dict) and all(isinstance(v, str) for v in alert["labels"].values()):
            alert.setdefault("fingerprint", labels_fingerprint(alert["labels"]))
    return {"receiver": "aiops", "status": "firing", "orgId": 1, "alerts": alerts, "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://grafana/", "version": "1",
            "groupKey": "{}:{}", "truncatedAlerts": 0, "title": "[FIRING]", "state": "alerting", "message": "m"}


PAYLOADS = st.one_of(alertmanager_payload(), grafana_payload())
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(PAYLOADS)
def test_bridge_split_accounts_for_every_alert(payload):
    items, rejected = split_payload(payload, SOURCE_ALERTMANAGER, SETTINGS.service_labels)
    positions = [item.position for item in items] + [r.position for r in rejected]
    assert sorted(positions) == sorted(f"alerts[{i}]" for i in range(len(payload["alerts"])))
    carried = {name: payload[name] for name in CARRIED_FIELDS if name in payload}
    for item in items:
        sent = payload["alerts"][int(item.position[7:-1])]
        assert item.fingerprint == sent.get("fingerprint") or labels_fingerprint(sent["labels"])
        assert json.loads(item.to_bytes()) == {**sent, **carried, "fingerprint": item.fingerprint}
    for rejection in rejected:
        assert rejection.reason
        sent = payload["alerts"][int(rejection.position[7:-1])]
        assert json.loads(rejection.original) == ({**sent, **carried} if isinstance(sent, dict) else sent)


@PROPERTY
@given(PAYLOADS)
def test_normalizer_accounts_for_every_alert(payload):
    decoded = decode_alerts(json.dumps(payload).encode(), SETTINGS, received_at=NOW)
    assert len(decoded) + len(decoded.rejected) == len(payload["alerts"])
    assert all(r.reason and r.original for r in decoded.rejected)
    good = [a for a in payload["alerts"] if isinstance(a, dict)]
    for alert in decoded:
        assert alert.fingerprint and alert.source == ("grafana" if payload["version"] == "1" else "alertmanager")
    # Every well-formed alert with a name and a service is read.
    readable = [a for a in good if a.get("status") in ("firing", "resolved") and isinstance(a.get("labels"), dict)
                and all(isinstance(v, str) for v in a["labels"].values()) and a["labels"].get("alertname")
                and any(a["labels"].get(n) for n in SETTINGS.service_labels) and a.get("startsAt") != "now"
                and not isinstance(a.get("fingerprint"), int)]
    assert len(decoded) == len(readable)
