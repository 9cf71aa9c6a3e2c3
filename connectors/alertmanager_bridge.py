"""`aiops connect alertmanager`: alert webhooks into aiops.alerts.raw, one record per alert.

POST /webhook takes Prometheus Alertmanager's webhook (every release's shape, with or without per-alert
fingerprints), POST /grafana Grafana Alerting's webhook (payload version 1). Decisions are per alert
(streams/ingest/alert_payloads.py): each readable alert becomes one record keyed by its fingerprint
(Alertmanager's or Grafana's own, or computed as Alertmanager computes it when the sender gave none): the alert
object as sent plus `version`, `receiver`, `groupKey`, `externalURL`, `commonLabels` and `orgId`. Each
unreadable alert becomes a dead letter on aiops.alerts.raw.dlq: that alert alone, with its position, service
and reason in headers. One bad alert never costs the good ones of its payload.

Answers: 200 once Kafka acknowledged every record and dead letter, with counts and the reason for each
rejected alert; 400 only for a payload nobody could accept (not JSON, not an object, no list of alerts),
which is dead-lettered whole as well; 413 for a body over `connect_max_request_bytes`; 401 without the
configured credential; 503 when Kafka did not take them, so the sender retries (Alertmanager and Grafana
retry a 5xx, never a 4xx). GET /healthz answers 200.

Alertmanager's receiver:
    receivers:
      - name: aiops
        webhook_configs:
          - url: http://127.0.0.1:9097/webhook
            send_resolved: true
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from aiops.core import metrics
from aiops.core.deadletter import dead_letter_topic
from aiops.core.settings import Settings
from aiops.core.topics import RAW_ALERTS
from connectors.dead_letters import dead_letter_record
from connectors.errors import KafkaUnavailable
from connectors.kafka_producer import Record
from connectors.serving import PRODUCER, SETTINGS, bridge_app
from streams.ingest.alert_payloads import SOURCE_ALERTMANAGER, SOURCE_GRAFANA, guess_service, split_payload
from streams.ingest.errors import IngestError
from streams.ingest.json_input import load_json_object
from streams.ingest.verdicts import Rejected

log = logging.getLogger(__name__)


def _error(_request: web.Request | None, status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


async def _send(request: web.Request, topic: str, records: list[Record]) -> None:
    if records:
        await request.app[PRODUCER].send_all(topic, records)


def _receiver(source: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def receive(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        producer_topic, dlq = settings.topic(RAW_ALERTS), dead_letter_topic(settings.topic(RAW_ALERTS))
        body = await request.read()
        try:
            document = load_json_object(body, settings.connect_max_request_bytes)
            items, rejected = split_payload(document, source, settings.service_labels)
        except IngestError as exc:
            whole = Rejected("payload", exc.reason, None, body or None)
            try:  # kept for the operator; the sender is told at once and will not retry a 4xx
                await _send(request, dlq, [dead_letter_record(whole, settings, producer_topic, request.path_qs)])
                metrics.DEAD_LETTERS.labels(producer_topic, "IngestError").inc()
            except KafkaUnavailable as unavailable:
                log.warning("refused payload on %s not dead-lettered: %s", request.path, unavailable)
            return _error(request, 400, exc.reason)
        records: list[Record] = []
        for item in items:
            value = item.to_bytes()
            if len(value) > settings.ingest_max_message_bytes:
                rejected.append(Rejected(item.position, f"{len(value)} bytes as a record, over the "
                                         f"{settings.ingest_max_message_bytes}-byte message limit",
                                         guess_service(item.record, settings.service_labels), value))
            else:
                records.append((item.fingerprint.encode("utf-8"), value))
        letters = [dead_letter_record(r, settings, producer_topic, request.path_qs) for r in rejected]
        try:
            await _send(request, producer_topic, records)
            await _send(request, dlq, letters)
        except KafkaUnavailable as exc:
            log.warning("webhook on %s from %s not taken by Kafka: %s", request.path, document.get("receiver"), exc)
            return _error(request, 503, f"Kafka did not take the alerts, retry later: {exc}")
        for _ in letters:
            metrics.DEAD_LETTERS.labels(producer_topic, "RejectedRecord").inc()
        if rejected:
            log.info("webhook on %s: %d alert(s) accepted, %d dead-lettered: %s", request.path, len(records),
                     len(rejected), rejected[0].describe()[:200])
        return web.json_response({"status": "accepted", "records": len(records), "dead_lettered": len(letters),
                                  "rejected": [r.describe()[:500] for r in rejected]})
    return receive


def create_app(settings: Settings) -> web.Application:
    """The bridge as an aiohttp app; its Kafka producer starts and stops with the app."""
    app = bridge_app(settings, "aiops-alertmanager-bridge", _error)
    app.router.add_post("/webhook", _receiver(SOURCE_ALERTMANAGER))
    app.router.add_post("/grafana", _receiver(SOURCE_GRAFANA))
    return app
