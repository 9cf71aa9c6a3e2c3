"""HTTP ingress for signed approvals from other tools: POST /v1/approvals -> an Approval on aiops.approvals.

It checks shape, not authority: the body must be well formed, and the token a well-formed ES256 JWT whose
proposal_id and decision claims match the body. Whether the signer may approve is decided by OPA, from the
key the policy bundle registers. The answer is 2xx only after Kafka acknowledged the record.

    POST /v1/approvals  {"proposal_id": "...", "decision": "approve"|"reject", "token": "<JWT>",
                         "source": "chatops", "comment": "optional"}
    202 {"status": "accepted", "topic": ..., "partition": n, "offset": n}
    400 malformed request or token, 422 token claims do not match the body, 503 Kafka cannot take it
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer

from aiops.core import metrics
from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS
from aiops.gatekeeper.errors import TokenError
from aiops.gatekeeper.tokens import inspect

log = logging.getLogger("connectors.approvals_http")

FIELDS = {"proposal_id", "decision", "token", "source", "comment"}
MAX_BODY_BYTES = 64 * 1024


class _Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_body(raw: bytes) -> dict[str, Any]:
    """The approval request, checked; raises _Rejected(400|422, reason)."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Rejected(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Rejected(400, "body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise _Rejected(400, f"unknown field(s) {unknown}; allowed: {sorted(FIELDS)}")
    for name in ("proposal_id", "token"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise _Rejected(400, f"field {name!r} is required and must be a non-empty string")
    if body.get("decision") not in ("approve", "reject"):
        raise _Rejected(400, "field 'decision' is required and must be 'approve' or 'reject'")
    source = body.get("source", "http")
    if not isinstance(source, str) or not source.strip():
        raise _Rejected(400, "field 'source' must be a non-empty string")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise _Rejected(400, "field 'comment' must be a string")
    try:
        token = inspect(body["token"])
    except TokenError as exc:
        raise _Rejected(400, f"token: {exc}") from None
    if token.proposal_id != body["proposal_id"]:
        raise _Rejected(422, f"token is for proposal {token.proposal_id!r}, the body says {body['proposal_id']!r}")
    if token.decision != body["decision"]:
        raise _Rejected(422, f"token says {token.decision!r}, the body says {body['decision']!r}")
    return {"proposal_id": body["proposal_id"], "decision": body["decision"], "token": body["token"],
            "source": source, "comment": comment}


class ApprovalsEndpoint:
    """The aiohttp application and its Kafka producer (started on first use, so a broker outage is a 503)."""

    def __init__(self, settings: Settings, produce_timeout_s: float = 10.0):
        self.settings = settings
        self.topic = settings.topic(APPROVALS)
        self.codec = codec_for("Approval", self.topic, settings)
        self.produce_timeout_s = produce_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v1/approvals", self.post_approval)
        app.router.add_get("/healthz", self.health)
        app.on_cleanup.append(self._close)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _producer_ready(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
                                            enable_idempotence=True,
                                            request_timeout_ms=int(self.produce_timeout_s * 1000))
                try:
                    await asyncio.wait_for(producer.start(), self.produce_timeout_s)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def post_approval(self, request: web.Request) -> web.Response:
        try:
            approval = parse_body(await request.read())
        except _Rejected as exc:
            return web.json_response({"error": exc.reason}, status=exc.status)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, status=413)
        approval["time"] = int(time.time() * 1000)
        value = self.codec.encode(approval)
        try:
            producer = await self._producer_ready()
            meta = await asyncio.wait_for(
                producer.send_and_wait(self.topic, value, key=approval["proposal_id"].encode()),
                self.produce_timeout_s)
            metrics.RECORDS_OUT.labels(self.topic).inc()
        except Exception as exc:
            log.warning("approval for %s not produced: %s", approval["proposal_id"], exc)
            await self._reset_producer()
            return web.json_response(
                {"error": f"Kafka cannot take the approval now: {type(exc).__name__}: {exc}"}, status=503)
        return web.json_response({"status": "accepted", "topic": meta.topic, "partition": meta.partition,
                                  "offset": meta.offset}, status=202)

    async def _reset_producer(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # the producer is being dropped anyway
                log.debug("stopping a failed producer: %s", exc)

    async def _close(self, app: web.Application) -> None:
        await self._reset_producer()


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the endpoint until interrupted."""
    web.run_app(ApprovalsEndpoint(settings).app(), host=host or settings.approvals_http_host,
                port=port or settings.approvals_http_port, print=None)
