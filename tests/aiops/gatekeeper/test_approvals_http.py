"""POST /v1/approvals: 400 for malformed requests, 422 for claims that do not match, 503 without Kafka,
and 202 only once the Approval is on aiops.approvals (where the gatekeeper picks it up)."""

from __future__ import annotations

import contextlib
import time

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from aiops.core.avro import codec_for
from connectors.approvals_http import ApprovalsEndpoint
from tests.aiops.gatekeeper.conftest import prefixed_settings
from tests.aiops.gatekeeper.doubles import free_port
from tests.aiops.gatekeeper.harness import params

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def endpoint(settings, **kwargs):
    runner = web.AppRunner(ApprovalsEndpoint(settings, **kwargs).app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}/v1/approvals"
    finally:
        await runner.cleanup()


async def post(session, url, body):
    kwargs = {"data": body} if isinstance(body, bytes | str) else {"json": body}
    async with session.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_bad_requests_get_a_4xx_with_the_reason(harness):
    proposal = {"id": "p-http-1", "action": "restart_deployment", "parameters": {"deployment": "x"}}
    good = harness.token("alice", proposal)
    hs256 = jwt.encode({"proposal_id": "p-http-1", "decision": "approve"}, "secret-key-of-32-bytes-or-more!!",
                       algorithm="HS256", headers={"kid": "alice"})
    cases = [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        ({"proposal_id": "p-http-1", "decision": "approve"}, 400, "'token' is required"),
        ({"proposal_id": "p-http-1", "decision": "maybe", "token": good}, 400, "'decision' is required"),
        ({"proposal_id": "p-http-1", "decision": "approve", "token": good, "approver": "root"}, 400,
         "unknown field(s) ['approver']"),
        ({"proposal_id": "p-http-1", "decision": "approve", "token": "abc.def"}, 400, "not a compact JWS"),
        ({"proposal_id": "p-http-1", "decision": "approve", "token": hs256}, 400, "only ES256 is accepted"),
        ({"proposal_id": "p-http-1", "decision": "approve", "token": good, "comment": 7}, 400, "'comment'"),
        ({"proposal_id": "p-http-2", "decision": "approve", "token": good}, 422,
         "token is for proposal 'p-http-1', the body says 'p-http-2'"),
        ({"proposal_id": "p-http-1", "decision": "reject", "token": good}, 422,
         "token says 'approve', the body says 'reject'"),
    ]
    async with endpoint(harness.settings) as (session, url):
        for body, status, reason in cases:
            got_status, got = await post(session, url, body)
            assert (got_status, reason in got.get("error", "")) == (status, True), (body, got_status, got)


async def test_a_good_approval_lands_on_kafka_and_counts(harness):
    proposal = await harness.propose("restart_deployment", params("restart_deployment"))
    await harness.decision(proposal["id"], "proposal")
    token = harness.token("bob", proposal)
    async with endpoint(harness.settings) as (session, url):
        status, body = await post(session, url, {"proposal_id": proposal["id"], "decision": "approve",
                                                 "token": token, "source": "chatops", "comment": "lgtm"})
    assert status == 202, body
    topic = harness.settings.topic("aiops.approvals")
    assert body["topic"] == topic
    consumer = AIOKafkaConsumer(bootstrap_servers=harness.settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, body["partition"])
        consumer.assign([tp])
        consumer.seek(tp, body["offset"])
        records = await consumer.getmany(tp, timeout_ms=10_000)
    finally:
        await consumer.stop()
    record = records[tp][0]
    assert record.key == proposal["id"].encode()
    approval = codec_for("Approval", topic, harness.settings).decode(record.value)
    assert (approval["proposal_id"], approval["decision"], approval["token"], approval["source"],
            approval["comment"]) == (proposal["id"], "approve", token, "chatops", "lgtm")
    assert abs(approval["time"].timestamp() - time.time()) < 60
    decision = await harness.decision(proposal["id"], "approval")
    assert decision["allow"] is True and decision["approvals_considered"][0]["source"] == "chatops"
    await harness.execution(proposal["id"], "succeeded")


async def test_503_when_kafka_cannot_take_it(services, harness):
    nowhere = prefixed_settings(services, harness.settings.topic_prefix, kafka_bootstrap=f"127.0.0.1:{free_port()}")
    proposal = {"id": "p-http-3", "action": "restart_deployment", "parameters": {"deployment": "x"}}
    async with endpoint(nowhere, produce_timeout_s=2.0) as (session, url):
        status, body = await post(session, url, {"proposal_id": "p-http-3", "decision": "approve",
                                                 "token": harness.token("alice", proposal)})
    assert status == 503 and "Kafka cannot take the approval" in body["error"]
