"""Alerts on aiops.alerts.raw: Alertmanager webhook payloads, single bridged alerts, the generic JSON alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aiops.core.settings import Settings
from streams.ingest import IngestError, decode_alerts
from streams.ingest.alerts import labels_fingerprint
from streams.records import Severity
from tests.streams.ingest import samples
from tests.streams.ingest.samples import to_json_bytes

SETTINGS = Settings()
NOW = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)


def decode(document, settings=SETTINGS):
    value = document if document is None or isinstance(document, bytes) else to_json_bytes(document)
    return decode_alerts(value, settings, received_at=NOW)


def reason(document, settings=SETTINGS) -> str:
    with pytest.raises(IngestError) as caught:
        decode(document, settings)
    return caught.value.reason


def rejections(document, settings=SETTINGS) -> list[str]:
    """The per-alert verdicts of a payload whose other alerts were read."""
    return [r.describe() for r in decode(document, settings).rejected]


def test_webhook_payload_keeps_alertmanager_fields():
    [alert] = decode(samples.webhook_payload())
    assert alert.fingerprint == "3f2a9c1d0b7e6a55"
    assert alert.status == "firing" and alert.name == "PostgresConnectionsNearLimit"
    assert alert.service == "orders-db" and alert.severity is Severity.critical
    assert alert.labels["env"] == "prod" and alert.annotations["runbook_url"] == "http://runbooks/pg"
    assert alert.starts_at == datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)  # nanoseconds cut
    assert alert.ends_at is None  # Alertmanager's zero time means "not set"
    assert alert.generator_url == "http://prometheus:9090/graph?g0.expr=pg_connections"
    assert alert.source == "alertmanager" and alert.received_at == NOW


def test_one_payload_many_alerts_and_resolved_with_end_time():
    resolved = {**samples.webhook_alert(service="payments-db"), "status": "resolved", "fingerprint": "aa",
                "endsAt": "2026-11-26T12:30:00+02:00"}
    first, second = decode(samples.webhook_payload(samples.webhook_alert(), resolved))
    assert (first.service, first.status) == ("orders-db", "firing")
    assert (second.service, second.status, second.fingerprint) == ("payments-db", "resolved", "aa")
    assert second.ends_at == datetime(2026, 11, 26, 10, 30, tzinfo=UTC)  # offset converted to UTC


def test_single_bridged_alert_with_payload_context():
    document = {**samples.webhook_alert(), "receiver": "aiops", "groupKey": "{}:{}", "externalURL": "http://am",
                "commonLabels": {"env": "prod"}}
    [alert] = decode(document)
    assert alert.fingerprint == "3f2a9c1d0b7e6a55" and alert.source == "alertmanager"


@pytest.mark.parametrize(("labels", "service"), [
    ({"service": "a", "job": "b", "app": "c"}, "a"),
    ({"job": "b", "app": "c"}, "b"),
    ({"app": "c"}, "c"),
    ({"service": " ", "job": "b"}, "b"),  # blank does not count
])
def test_service_from_labels_in_default_order(labels, service):
    alert = samples.webhook_alert()
    alert["labels"] = {"alertname": "X", **labels}
    assert decode(samples.webhook_payload(alert))[0].service == service


def test_service_label_order_is_configurable():
    alert = samples.webhook_alert()
    alert["labels"] = {"alertname": "X", "service": "a", "app": "c", "namespace": "shop"}
    settings = Settings(service_labels=["app", "service"])
    assert decode(samples.webhook_payload(alert), settings)[0].service == "c"


def test_no_service_names_the_labels_looked_for():
    alert = samples.webhook_alert()
    alert["labels"] = {"alertname": "X", "instance": "db-1:9187"}
    assert reason(alert) == "no service: none of labels service, job, app"
    ok = samples.webhook_alert()
    decoded = decode(samples.webhook_payload(ok, ok, alert))
    assert len(decoded) == 2 and rejections(samples.webhook_payload(ok, ok, alert)) == [
        "alerts[2]: no service: none of labels service, job, app"]
    # The dead letter holds that alert alone, with the payload fields it needs to stand on its own.
    alone = json.loads(decoded.rejected[0].original)
    assert alone["labels"] == alert["labels"] and alone["receiver"] == "aiops" and alone["version"] == "4"
    assert alone["fingerprint"] == alert["fingerprint"]


@pytest.mark.parametrize(("word", "severity"), [
    ("critical", Severity.critical), ("page", Severity.critical), ("P1", Severity.critical),
    ("high", Severity.error), ("error", Severity.error), ("warning", Severity.warning),
    ("minor", Severity.warning), ("info", Severity.info), ("none", Severity.info), ("bogus", Severity.unknown),
])
def test_severities_onto_one_scale(word, severity):
    assert decode(samples.webhook_payload(samples.webhook_alert(severity=word)))[0].severity is severity
    assert decode(samples.generic_alert(severity=word))[0].severity is severity


def test_trace_id_from_label_or_annotation():
    alert = samples.webhook_alert(trace_id=samples.TRACE_ID.upper())
    assert decode(alert)[0].trace_id == samples.TRACE_ID
    alert = samples.webhook_alert()
    alert["annotations"]["trace_id"] = samples.TRACE_ID
    assert decode(alert)[0].trace_id == samples.TRACE_ID
    assert decode(samples.webhook_alert())[0].trace_id is None


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda p: p["alerts"][0].update(labels=[]), "alerts[0]: labels: expected an object, got array"),
    (lambda p: p["alerts"][0]["labels"].update(env=3), "alerts[0] (service orders-db): labels.env: expected a "
                                                       "string, got number"),
    (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0] (service orders-db): startsAt: not an "
                                                            "RFC3339 time"),
    (lambda p: p["alerts"][0].update(startsAt="2026-11-26T10:00:00"), "alerts[0] (service orders-db): startsAt: "
                                                                      "not an RFC3339 time"),
    (lambda p: p["alerts"][0].update(endsAt=17), "alerts[0] (service orders-db): endsAt: not an RFC3339 time"),
    (lambda p: p["alerts"][0].update(status="pending"), "alerts[0] (service orders-db): status: expected 'firing' "
                                                        "or 'resolved'"),
    (lambda p: p["alerts"][0]["labels"].pop("alertname"), "alerts[0] (service orders-db): no alertname label"),
    (lambda p: p["alerts"].append(None), "alerts[2]: expected an object, got null"),
])
def test_unreadable_alert_is_rejected_alone_and_says_where(mutate, expected):
    payload = samples.webhook_payload(samples.webhook_alert(), samples.webhook_alert(service="payments-db"))
    mutate(payload)
    decoded = decode(payload)
    assert [r.describe() for r in decoded.rejected] == [expected]
    assert len(decoded) == (2 if expected.startswith("alerts[2]") else 1)  # the others go on


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda p: p.update(alerts={}), "alerts: expected an array, got object"),
    (lambda p: p.update(alerts=[]), "alerts: expected at least 1 item(s)"),
    (lambda p: p.update(alerts=None), "alerts: missing"),
])
def test_payload_without_alerts_is_refused_whole(mutate, expected):
    payload = samples.webhook_payload()
    mutate(payload)
    assert reason(payload) == expected


def test_missing_fingerprint_is_computed_as_alertmanager_does():
    # Alertmanager before 0.19 and tools imitating its webhook send no fingerprint: dedup and resolve must pair.
    firing = {k: v for k, v in samples.webhook_alert().items() if k != "fingerprint"}
    resolved = {**firing, "status": "resolved", "endsAt": "2026-11-26T10:30:00Z"}
    older = {k: v for k, v in samples.webhook_payload(firing).items() if k != "truncatedAlerts"}
    [fired] = decode(older)
    [ended] = decode(samples.webhook_payload(resolved, status="resolved"))
    assert fired.fingerprint == ended.fingerprint == labels_fingerprint(firing["labels"])
    # Other versions and null maps, as imitating tools write them, are read too.
    [alert] = decode({**samples.webhook_payload(firing), "version": "5", "commonAnnotations": None,
                      "alerts": [{**firing, "annotations": None, "generatorURL": None}]})
    assert alert.annotations == {} and alert.generator_url is None


def test_generic_alert_with_computed_fingerprint():
    [alert] = decode(samples.generic_alert())
    assert alert.source == "generic" and alert.service == "checkout" and alert.severity is Severity.error
    assert alert.labels == {"env": "prod", "team": "payments", "alertname": "CheckoutErrorRate",
                            "service": "checkout"}
    assert alert.fingerprint == labels_fingerprint(alert.labels)
    assert alert.starts_at == datetime(2026, 11, 26, 10, tzinfo=UTC) and alert.ends_at is None
    # The fingerprint depends on the labels only, not their order or the annotations.
    reordered = samples.generic_alert(labels={"team": "payments", "env": "prod"}, annotations={"x": "y"})
    assert decode(reordered)[0].fingerprint == alert.fingerprint
    assert decode(samples.generic_alert(labels={"env": "staging"}))[0].fingerprint != alert.fingerprint


def test_generic_alert_optional_fields():
    minimal = {"name": "DiskFull", "labels": {"job": "node"}}
    [alert] = decode(minimal)
    assert alert.service == "node" and alert.status == "firing" and alert.starts_at == NOW
    given = decode(samples.generic_alert(fingerprint="fp-1", status="resolved", starts_at=1795687200,
                                         ends_at="2026-11-26T10:05:00Z", trace_id=samples.TRACE_ID,
                                         source="grafana", generator_url="http://grafana/d/1"))[0]
    assert (given.fingerprint, given.status, given.source) == ("fp-1", "resolved", "grafana")
    assert given.starts_at == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert given.ends_at == datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    assert given.trace_id == samples.TRACE_ID and given.generator_url == "http://grafana/d/1"


def test_labels_fingerprint_is_alertmanagers_algorithm():
    # prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 with 0xff separators, names sorted.
    assert labels_fingerprint({}) == "cbf29ce484222325"
    assert labels_fingerprint({"alertname": "A", "job": "api"}) == "775035f59e4e3eda"


@pytest.mark.parametrize(("value", "expected"), [
    (b'{"name": ', "invalid JSON at line 1 column 10: Expecting value"),
    (b"\xff\xfe{}", "invalid UTF-8 at byte 0"),
    (b"[1, 2]", "expected a JSON object, got array"),
    (b"", "empty message"),
    (None, "empty message (null value)"),
    (b'{"name": NaN}', "invalid JSON: NaN is not valid JSON"),
    (b"[" * 100 + b"]" * 100, "invalid JSON: nested deeper than 64 levels"),
    (b"[" * 100_000, "invalid JSON: nested deeper than 64 levels"),
    (b'{"name": "x"}', "no service: none of labels service, job, app (and no field service)"),
    (b'{"service": "x"}', "name: missing"),
    (b'{"name": "x", "service": "y", "starts_at": true}', "starts_at: expected a time, got a boolean"),
    (b'{"name": "x", "service": "y", "labels": {"a": "\\ud800"}}',
     "field 'labels['a']': lone surrogate '\\ud800' is not valid Unicode"),
])
def test_unreadable_messages_have_a_reason(value, expected):
    assert reason(value) == expected


def test_size_limits_reject_rather_than_truncate():
    settings = Settings(ingest_max_message_bytes=4096, ingest_max_field_bytes=1024)
    big = to_json_bytes(samples.generic_alert(annotations={"pad": "x" * 5000}))
    assert reason(big, settings) == f"message of {len(big)} bytes is over the 4096-byte limit"
    long_field = samples.generic_alert(annotations={"summary": "é" * 600})
    assert reason(long_field, settings) == "field 'annotations['summary']' is 1200 bytes, over the 1024-byte limit"
    assert decode(samples.generic_alert(annotations={"summary": "é" * 500}), settings)


def test_avro_round_trip_of_decoded_alert():
    from aiops.core.avro import SchemaSet, SingleObjectCodec
    from aiops.core.paths import PROJECT_ROOT
    from streams.records import Alert

    codec = SingleObjectCodec(SchemaSet.load(PROJECT_ROOT / "schemas")["Alert"])
    for alert in decode(samples.webhook_payload()) + decode(samples.generic_alert()):
        assert Alert.from_avro(codec.decode(codec.encode(alert.to_avro()))) == alert.model_copy(
            update={"starts_at": alert.starts_at.replace(microsecond=alert.starts_at.microsecond // 1000 * 1000)})


def test_json_types_in_webhook_are_not_coerced():
    payload = samples.webhook_payload()
    payload["alerts"][0]["fingerprint"] = 1234
    assert rejections(payload) == ["alerts[0] (service orders-db): fingerprint: expected a string, got number"]
    assert json.loads(to_json_bytes(samples.webhook_payload()))["version"] == "4"


def test_grafana_webhook_keeps_fingerprint_values_and_links():
    second = {**samples.grafana_alert(service="cart-api"), "fingerprint": "", "values": None, "valueString": "",
              "dashboardURL": "", "panelURL": "", "imageURL": "http://grafana:3000/public/img/a.png"}
    second.pop("fingerprint")
    first, other = decode(samples.grafana_payload(samples.grafana_alert(), second))
    assert first.source == "grafana" and first.fingerprint == "8a1b2c3d4e5f6a7b"
    assert first.severity is Severity.error  # "major"
    assert first.values == {"A": 2.31, "C": 1.0}
    assert first.links == {"dashboard": "http://grafana:3000/d/shop-latency?orgId=1",
                           "panel": "http://grafana:3000/d/shop-latency?orgId=1&viewPanel=4",
                           "silence": samples.grafana_alert()["silenceURL"]}
    assert first.annotations["__value_string__"].startswith("[ var='A'")
    assert first.starts_at == datetime(2026, 11, 26, 9, 0, 0, 500000, tzinfo=UTC)
    assert other.fingerprint == labels_fingerprint(second["labels"]) and other.values == {}
    assert other.links == {"image": "http://grafana:3000/public/img/a.png", "silence": second["silenceURL"]}


def test_grafana_values_must_be_numbers():
    alert = {**samples.grafana_alert(), "values": {"A": "2.31"}}
    assert rejections(samples.grafana_payload(alert)) == [
        "alerts[0] (service checkout-api): values.A: expected a number, got string"]


def test_alertmanager_before_0_19_grouped_payload_reaches_kafka_shape():
    decoded = decode(samples.old_alertmanager_payload())
    assert not decoded.rejected and len(decoded) == 3
    assert [a.fingerprint for a in decoded] == [labels_fingerprint(a["labels"])
                                                for a in samples.old_alertmanager_payload()["alerts"]]
    assert {a.service for a in decoded} == {"blackbox-http"} and {a.severity for a in decoded} == {Severity.error}


@pytest.mark.parametrize(("word", "severity"), [
    ("major", Severity.error), ("minor", Severity.warning), ("page", Severity.critical), ("high", Severity.error),
    ("low", Severity.info), ("P1", Severity.critical), ("P2", Severity.error), ("P3", Severity.warning),
    ("p4", Severity.info), ("P5", Severity.info),
])
def test_common_severity_words(word, severity):
    assert decode(samples.webhook_payload(samples.webhook_alert(severity=word)))[0].severity is severity


def test_severity_words_and_labels_are_configurable():
    settings = Settings(severity_words={"P3": "error", "sev0": "critical"}, alert_severity_labels=["urgency"])
    alert = samples.webhook_alert(urgency="sev0", severity="info")
    assert decode(samples.webhook_payload(alert), settings)[0].severity is Severity.critical
    assert decode(samples.webhook_payload(samples.webhook_alert(urgency="P3")), settings)[0].severity is Severity.error
    # The default labels: severity, then priority.
    priority = samples.webhook_alert(priority="P1")
    del priority["labels"]["severity"]
    assert decode(samples.webhook_payload(priority))[0].severity is Severity.critical
    env = Settings.model_validate({}, context=None)
    assert env.severity_words == {}
