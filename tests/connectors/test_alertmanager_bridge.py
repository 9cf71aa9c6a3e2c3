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

from aiops.core.settings import Settings
from aiops.demo.local_services import free_port
from connectors import alertmanager_bridge, serving
from tests.kafka_io import TopicReader
from tests.streams.ingest import samples

pytestmark = pytest.mark.integration


@asynccontextmanager
async def bridge(settings: Settings) -> AsyncIterator[str]:
    runner, port = await serving.start(alertmanager_bridge.create_app(settings), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def post(url: str, body: bytes | dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/webhook", data=data, headers={"Content-Type": "application/json", **(headers or {})}) as resp:
        return resp.status, await resp.json(content_type=None)


def bridge_settings(settings: Settings, prefix: str, **overrides) -> Settings:
    return Settings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=prefix, **overrides)


async def test_one_record_per_alert_keyed_by_fingerprint(settings, normalize_worker):
    tag = uuid.uuid4().hex[:8]
    first = {**samples.webhook_alert(service=f"orders-db-{tag}"), "fingerprint": f"{tag}0000000001"}
    second = {**samples.webhook_alert(service=f"payments-db-{tag}"), "fingerprint": f"{tag}0000000002",
              "status": "resolved", "endsAt": "2026-11-26T10:30:00Z"}
    payload = samples.webhook_payload(first, second)
    async with bridge(bridge_settings(settings, normalize_worker.prefix)) as url:
        assert await post(url, payload) == (200, {"status": "accepted", "records": 2})
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as resp:
            assert resp.status == 200

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts.raw")) as raw:
        got = raw.wait_until(lambda rs: sum(r.key.startswith(tag.encode()) for r in rs if r.key) >= 2, 30, "2 records")
    records = {r.key.decode(): json.loads(r.value) for r in got if r.key and r.key.startswith(tag.encode())}
    carried = {"receiver": "aiops", "groupKey": payload["groupKey"], "externalURL": "http://alertmanager:9093",
               "commonLabels": payload["commonLabels"]}
    assert records == {first["fingerprint"]: {**first, **carried}, second["fingerprint"]: {**second, **carried}}

    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.alerts")) as canonical:
        got = canonical.wait_until(lambda rs: {r.key for r in rs} >= {f"orders-db-{tag}".encode(),
                                                                    f"payments-db-{tag}".encode()}, 30,
                                 "2 normalised alerts", diagnostics=normalize_worker.logs)
    assert len([r for r in got if r.key and r.key.decode().endswith(tag)]) == 2


@pytest.mark.parametrize(("body", "message"), [
    (b"{", "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    (b"\xff", "invalid UTF-8 at byte 0"),
    ({"version": "4"}, "groupKey: missing; status: missing; receiver: missing (and 1 more)"),
    ({**samples.webhook_payload(), "version": "2"}, "version: expected '4'"),
    (samples.webhook_payload({**samples.webhook_alert(), "labels": ["a"]}),
     "alerts[0].labels: expected an object, got array"),
    (samples.webhook_payload({**samples.webhook_alert(), "startsAt": "now"}),
     "alerts[0].startsAt: not an RFC3339 time"),
    ({**samples.webhook_payload(), "alerts": []}, "alerts: expected at least 1 item(s)"),
])
async def test_malformed_payload_gets_400_saying_what_is_wrong(settings, body, message):
    async with bridge(bridge_settings(settings, "unused.")) as url:
        assert await post(url, body) == (400, {"status": "error", "error": message})


async def test_record_over_the_message_limit_gets_413(settings):
    alert = samples.webhook_alert()
    alert["annotations"]["description"] = "x" * 3000
    async with bridge(bridge_settings(settings, "unused.", ingest_max_message_bytes=2048)) as url:
        status, answer = await post(url, samples.webhook_payload(alert))
    assert status == 413 and answer["error"].startswith("alerts[0] is ") and "2048-byte" in answer["error"]


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
