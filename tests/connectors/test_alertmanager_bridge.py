"""The Alertmanager bridge on a real port: one record per alert on the real broker, 4xx that say what is wrong,
401 without credentials, and 5xx (never 2xx) when Kafka cannot take the records."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from aiops.core.avro import SingleObjectCodec
from aiops.core.deadletter import ERROR_MESSAGE, ORIGINAL_POSITION, ORIGINAL_SERVICE, VALUE_DROPPED
from aiops.core.settings import Settings
from aiops.demo.local_services import free_port
from connectors import alertmanager_bridge, serving
from streams.ingest.fingerprint import labels_fingerprint
from streams.records import Alert
from tests.kafka_io import TopicReader
from tests.samples import SCHEMAS
from tests.streams.ingest import samples

pytestmark = pytest.mark.integration


@asynccontextmanager
async def bridge(settings: Settings) -> AsyncIterator[str]:
    runner, port = await serving.start(alertmanager_bridge.create_app(settings), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def post(url: str, body: bytes | dict, headers: dict[str, str] | None = None,
               path: str = "/webhook") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}{path}", data=data, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        return resp.status, await resp.json(content_type=None)


def bridge_settings(settings: Settings, prefix: str, **overrides) -> Settings:
    return Settings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=prefix, **overrides)


ENDPOINT = "aiops.original.endpoint"


async def test_one_record_per_alert_keyed_by_fingerprint(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    first = {**samples.webhook_alert(service=f"orders-db-{tag}"), "fingerprint": f"{tag}0000000001"}
    second = {**samples.webhook_alert(service=f"payments-db-{tag}"), "fingerprint": f"{tag}0000000002",
              "status": "resolved", "endsAt": "2026-11-26T10:30:00Z"}
    payload = samples.webhook_payload(first, second)
    async with bridge(bridge_settings(settings, normalize_worker.prefix)) as url:
        assert await post(url, payload) == (200, {"status": "accepted", "records": 2, "dead_lettered": 0,
                                                  "rejected": []})
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as resp:
            assert resp.status == 200

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
        got = raw.wait_until(lambda rs: sum(r.key.startswith(tag.encode()) for r in rs if r.key) >= 2, 30, "2 records")
    records = {r.key.decode(): json.loads(r.value) for r in got if r.key and r.key.startswith(tag.encode())}
    carried = {"version": "4", "receiver": "aiops", "groupKey": payload["groupKey"],
               "externalURL": "http://alertmanager:9093", "commonLabels": payload["commonLabels"]}
    assert records == {first["fingerprint"]: {**first, **carried}, second["fingerprint"]: {**second, **carried}}

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as canonical:
        got = canonical.wait_until(lambda rs: {r.key for r in rs} >= {f"orders-db-{tag}".encode(),
                                                                    f"payments-db-{tag}".encode()}, 30,
                                 "2 normalised alerts", diagnostics=normalize_worker.logs)
    assert len([r for r in got if r.key and r.key.decode().endswith(tag)]) == 2


@pytest.mark.parametrize(("body", "message"), [
    (b"{", "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    (b"\xff", "invalid UTF-8 at byte 0"),
    (b"[]", "expected a JSON object, got array"),
    ({"version": "4"}, "alerts: missing"),
    ({**samples.webhook_payload(), "alerts": {}}, "alerts: expected an array, got object"),
    ({**samples.webhook_payload(), "alerts": []}, "alerts: expected at least 1 item(s)"),
])
async def test_payload_nobody_could_accept_gets_400_and_a_dead_letter(settings, normalize_worker, body, message):
    tag = uuid.uuid4().hex
    path = f"/webhook?attempt={tag}"  # tells this test's dead letter apart on the shared topic
    async with bridge(bridge_settings(settings, normalize_worker.prefix)) as url:
        assert await post(url, body, path=path) == (400, {"status": "error", "error": message})
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw.dlq")) as dlq:
        letters = dlq.wait_until(lambda rs: any(tag in r.headers.get(ENDPOINT, "") for r in rs), 30,
                               "the refused payload's dead letter")
    [letter] = [r for r in letters if tag in r.headers.get(ENDPOINT, "")]
    assert letter.headers[ERROR_MESSAGE] == f"payload: {message}" and letter.headers[ORIGINAL_POSITION] == "payload"
    assert letter.value == (body if isinstance(body, bytes) else json.dumps(body).encode())


async def test_bad_alert_is_dead_lettered_alone_and_the_good_ones_go_on(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    good = {**samples.webhook_alert(service=f"orders-db-{tag}"), "fingerprint": f"{tag}00000001"}
    bad = {**samples.webhook_alert(service=f"cart-{tag}"), "startsAt": "yesterday"}
    big = samples.webhook_alert(service=f"big-{tag}")
    big["annotations"]["description"] = "x" * 3000
    limits = bridge_settings(settings, normalize_worker.prefix, ingest_max_message_bytes=2048)
    async with bridge(limits) as url:
        status, answer = await post(url, samples.webhook_payload(good, bad, big))
    assert status == 200 and (answer["records"], answer["dead_lettered"]) == (1, 2)
    assert answer["rejected"][0] == f"alerts[1] (service cart-{tag}): startsAt: not an RFC3339 time"
    assert answer["rejected"][1].startswith(f"alerts[2] (service big-{tag}): ") and "2048-byte" in answer["rejected"][1]
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
        raw.wait_until(lambda rs: any(r.key == good["fingerprint"].encode() for r in rs), 30, "the good alert")
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw.dlq")) as dlq:
        letters = dlq.wait_until(lambda rs: sum(tag in r.headers.get(ORIGINAL_SERVICE, "") for r in rs) >= 2, 30,
                               "both bad alerts' dead letters")
    mine = {r.headers[ORIGINAL_POSITION]: r for r in letters if tag in r.headers.get(ORIGINAL_SERVICE, "")}
    assert json.loads(mine["alerts[1]"].value)["startsAt"] == "yesterday"
    assert mine["alerts[2]"].value is None and "bytes not copied" in mine["alerts[2]"].headers[VALUE_DROPPED]


async def test_grafana_webhook_on_its_own_path(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    alert = {**samples.grafana_alert(service=f"checkout-{tag}"), "fingerprint": f"{tag}0000000g"}
    async with bridge(bridge_settings(settings, normalize_worker.prefix)) as url:
        status, answer = await post(url, samples.grafana_payload(alert), path="/grafana")
    assert (status, answer["records"]) == (200, 1)
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
        got = raw.wait_until(lambda rs: any(r.key == alert["fingerprint"].encode() for r in rs), 30,
                             "the Grafana alert")
    record = json.loads(next(r.value for r in got if r.key == alert["fingerprint"].encode()))
    assert record["version"] == "1" and record["orgId"] == 1 and record["values"] == {"A": 2.31, "C": 1}
    codec = SingleObjectCodec(SCHEMAS["Alert"])
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as canonical:
        got = canonical.wait_until(lambda rs: any(r.key == f"checkout-{tag}".encode() for r in rs), 30,
                                 "the normalised Grafana alert", diagnostics=normalize_worker.logs)
    normalised = Alert.from_avro(codec.decode(next(r.value for r in got if r.key == f"checkout-{tag}".encode())))
    assert normalised.source == "grafana" and normalised.fingerprint == alert["fingerprint"]
    assert normalised.values == {"A": 2.31, "C": 1.0} and normalised.links["panel"].endswith("viewPanel=4")


async def test_bearer_and_basic_auth(settings, normalize_worker):
    secured = bridge_settings(settings, normalize_worker.prefix, connect_bearer_token="s3cret-token",
                              connect_basic_user="alertmanager", connect_basic_password="pa55")
    basic = base64.b64encode(b"alertmanager:pa55").decode()
    wrong_basic = base64.b64encode(b"alertmanager:guess").decode()
    async with bridge(secured) as url:
        payload = samples.webhook_payload()
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {wrong_basic}"},
                        {"Authorization": "Basic !!!"}, {"Authorization": "s3cret-token"}):
            status, answer = await post(url, payload, headers)
            assert (status, answer["error"]) == (401, "missing or wrong credentials (Authorization: Bearer or Basic)")
        assert (await post(url, payload, {"Authorization": "Bearer s3cret-token"}))[0] == 200
        assert (await post(url, payload, {"Authorization": f"Basic {basic}"}))[0] == 200
        async with aiohttp.ClientSession() as session, session.post(f"{url}/webhook", data=b"{}") as resp:
            assert resp.headers.getall("WWW-Authenticate") == ['Bearer realm="aiops"', 'Basic realm="aiops"']
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as resp:
            assert resp.status == 200  # health needs no credentials


async def test_kafka_unreachable_gets_503_never_2xx(settings):
    closed = free_port()  # nothing listens there
    unreachable = Settings(kafka_bootstrap=f"127.0.0.1:{closed}", connect_kafka_timeout_s=1.5)
    async with bridge(unreachable) as url:
        for _ in range(2):
            started = time.monotonic()
            status, answer = await post(url, samples.webhook_payload(samples.webhook_alert(),
                                                                     samples.webhook_alert(service="b")))
            assert status == 503, answer
            assert answer["error"].startswith("Kafka did not take the alerts, retry later: Kafka did not acknowledge "
                                              "2 of 2 record(s): _MSG_TIMED_OUT")
            assert time.monotonic() - started < 10


async def test_grouped_payload_of_an_alertmanager_before_0_19_reaches_kafka_with_fingerprints(settings,
                                                                                             normalize_worker):
    # The shape that was refused whole with 400 `alerts[0].fingerprint: missing`, and so lost for good.
    payload = samples.old_alertmanager_payload()
    tag = uuid.uuid4().hex[:8]
    for alert in payload["alerts"]:
        alert["labels"]["job"] = f"blackbox-{tag}"
    async with bridge(bridge_settings(settings, normalize_worker.prefix)) as url:
        assert (await post(url, payload))[1]["records"] == 3
    wanted = {labels_fingerprint(a["labels"]).encode() for a in payload["alerts"]}
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
        got = raw.wait_until(lambda rs: {r.key for r in rs} >= wanted, 30, "the three alerts")
    assert all(json.loads(r.value)["fingerprint"] == r.key.decode() for r in got if r.key in wanted)
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as canonical:
        canonical.wait_until(lambda rs: sum(r.key == f"blackbox-{tag}".encode() for r in rs) == 3, 30,
                           "three normalised alerts", diagnostics=normalize_worker.logs)
