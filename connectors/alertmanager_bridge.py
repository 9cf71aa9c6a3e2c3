"""`aiops connect alertmanager`: Alertmanager's webhook (payload version 4) into aiops.alerts.raw.

POST /webhook validates the payload and produces one record per alert, keyed by Alertmanager's fingerprint:
the alert object as Alertmanager sent it, plus `receiver`, `groupKey`, `externalURL` and `commonLabels`.
It answers 200 only after Kafka acknowledged every record (acks=all); when Kafka cannot take them it
answers 503 and Alertmanager retries. A malformed payload gets 400 with what is wrong; a missing or wrong
credential 401 (when `connect_bearer_token` or `connect_basic_user` is set). GET /healthz answers 200.

Alertmanager's receiver:
    receivers:
      - name: aiops
        webhook_configs:
          - url: http://127.0.0.1:9097/webhook
            send_resolved: true
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from aiops.core.settings import Settings
from aiops.core.topics import RAW_ALERTS
from connectors.kafka_producer import KafkaUnavailable
from connectors.serving import PRODUCER, SETTINGS, bridge_app
from streams.ingest.alerts import WebhookPayload
from streams.ingest.errors import IngestError
from streams.ingest.json_input import load_json_object
from streams.ingest.validation import validate

log = logging.getLogger(__name__)

# Payload fields each per-alert record carries along, so that it stands on its own.
CARRIED_FIELDS = ("receiver", "groupKey", "externalURL", "commonLabels")


def _error(_request: web.Request | None, status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


def alert_records(document: dict) -> list[tuple[bytes, bytes]]:
    """One (key, value) per alert of a validated webhook payload: fingerprint, the alert plus carried fields."""
    carried = {name: document[name] for name in CARRIED_FIELDS if name in document}
    return [
        (alert["fingerprint"].encode("utf-8"),
         json.dumps({**alert, **carried}, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        for alert in document["alerts"]
    ]


async def receive_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = await request.read()
    try:
        document = load_json_object(body, settings.connect_max_request_bytes)
        validate(WebhookPayload, document)
    except IngestError as exc:
        return _error(request, 400, exc.reason)
    records = alert_records(document)
    for index, (_, value) in enumerate(records):
        if len(value) > settings.ingest_max_message_bytes:
            return _error(request, 413, f"alerts[{index}] is {len(value)} bytes as a record, over the "
                                        f"{settings.ingest_max_message_bytes}-byte message limit")
    try:
        await request.app[PRODUCER].send_all(settings.topic(RAW_ALERTS), records)
    except KafkaUnavailable as exc:
        log.warning("webhook from %s not taken by Kafka: %s", document.get("receiver"), exc)
        return _error(request, 503, f"Kafka did not take the alerts, retry later: {exc}")
    return web.json_response({"status": "accepted", "records": len(records)})


def create_app(settings: Settings) -> web.Application:
    """The bridge as an aiohttp app; its Kafka producer starts and stops with the app."""
    app = bridge_app(settings, "aiops-alertmanager-bridge", _error)
    app.router.add_post("/webhook", receive_webhook)
    return app
