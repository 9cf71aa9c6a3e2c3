"""The console on the real broker: read access, pages built from the output topics (evidence, candidates,
handbook links, the gate), the event stream, and approvals through the same endpoint other tools use."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from aiops.console.server import ConsoleService
from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import create_topics, delete_prefixed_topics
from aiops.gatekeeper.keys import KeyStore
from aiops.gatekeeper.tokens import sign_approval
from tests import samples
from tests.aiops.gatekeeper.conftest import wait_for_leaders
from tests.kafka_io import produce

pytestmark = pytest.mark.integration

TOKEN = "read-" + uuid.uuid4().hex
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def console_settings(services) -> Iterator[Settings]:
    prefix = f"console-{uuid.uuid4().hex[:8]}."
    settings = Settings(kafka_bootstrap=services.kafka_bootstrap, opa_url=services.opa_url, topic_prefix=prefix,
                        default_partitions=1, console_read_token=TOKEN)
    create_topics(settings)
    wait_for_leaders(settings)
    yield settings
    delete_prefixed_topics(settings.kafka_bootstrap, prefix)


def publish(settings: Settings, topic: str, record_name: str, records: list[dict[str, Any]],
            key: Callable[[dict[str, Any]], str]) -> None:
    codec = codec_for(record_name, settings.topic(topic), settings)
    produce(settings.kafka_bootstrap, settings.topic(topic), [(key(r).encode(), codec.encode(r)) for r in records])


def incident() -> dict[str, Any]:
    record = samples.incident()
    record.update(
        title="orders-db pool exhausted <img src=x onerror=alert(1)>", updated_at=NOW,
        similar_incidents=[{"doc_id": "pm-2025-09-orders-db-migration-lock-connection-exhaustion",
                            "kind": "postmortem", "title": "Migration lock exhausted orders-db", "score": 192.2},
                           {"doc_id": "inc-gone", "kind": "incident", "title": "an incident long gone", "score": 3.0}])
    record["log_evidence"][0]["examples"] = ["</pre><script>alert('telemetry')</script>"]
    return record


def proposal(pid: str) -> dict[str, Any]:
    record = samples.proposal()
    record.update(id=pid, created_at=NOW, expires_at=NOW + timedelta(hours=1),
                  parameters={"environment": "prod", "namespace": "shop", "deployment": "orders-api"})
    return record


@pytest.fixture(scope="module")
async def console(console_settings: Settings) -> AsyncIterator[ConsoleService]:
    service = ConsoleService(console_settings, "127.0.0.1", 0)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def reader(console: ConsoleService) -> AsyncIterator[aiohttp.ClientSession]:
    """A session holding the read cookie, as a browser would after opening the printed address."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{console.url}/?token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/"
            assert "HttpOnly" in response.headers["Set-Cookie"] and "SameSite=Strict" in response.headers["Set-Cookie"]
        yield session


async def page(session: aiohttp.ClientSession, url: str, *needles: str, timeout_s: float = 30.0) -> str:
    """The page once it contains every needle (records arrive from Kafka asynchronously)."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        async with session.get(url, headers={"Accept": "text/html"}) as response:
            text = await response.text()
            if response.status == 200 and all(n in text for n in needles):
                return text
        await asyncio.sleep(0.3)
    missing = [n for n in needles if n not in text]
    raise AssertionError(f"{url} never showed {missing}; last page:\n{text[:3000]}")


async def test_reading_needs_the_read_token(console: ConsoleService):
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/incidents/x", "/events", "/keys/x-000000000000/status"):
            async with session.get(f"{console.url}{path}") as response:
                assert response.status == 401, path
        async with session.get(f"{console.url}/?token=wrong") as response:
            assert response.status == 401
        async with session.get(f"{console.url}/proposals", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
        for path in ("/healthz", "/static/console.js", "/metrics"):
            async with session.get(f"{console.url}{path}") as response:
                assert response.status in (200, 503), path  # healthz is 503 until the follower has partitions
    assert console.host == "127.0.0.1" and Settings().console_host == "127.0.0.1"


async def test_pages_show_the_incident_its_evidence_and_its_proposals(console_settings, console, reader):
    s = console_settings
    pid = f"prop-{uuid.uuid4().hex[:8]}"
    publish(s, "aiops.incidents", "Incident", [incident()], key=lambda r: r["id"])
    publish(s, "aiops.proposals", "Proposal", [proposal(pid)], key=lambda r: r["id"])
    publish(s, "aiops.decisions", "Decision", [{**samples.decision(), "id": "d-1", "proposal_id": pid,
                                                "evaluated_at": NOW}], key=lambda r: r["proposal_id"])

    listing = await page(reader, f"{console.url}/", "inc-7d1f", "1 awaiting approval")
    assert "orders-db pool exhausted &lt;img src=x onerror=alert(1)&gt;" in listing

    text = await page(reader, f"{console.url}/incidents/inc-7d1f", pid, "needs approval")
    # Ranked candidates with their reasons, evidence of each kind, similar documents linked into the handbook.
    assert "Ranked candidates" in text and "orders-api" in text and "caller" in text
    assert "timeout acquiring connection from pool after &lt;NUM&gt;ms" in text and "×412" in text
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in text and "PostgresConnectionsNearLimit" in text
    assert 'href="/handbook/pm-2025-09-orders-db-migration-lock-connection-exhaustion"' in text
    assert 'href="/incidents/inc-gone"' not in text and "an incident long gone" in text
    # Telemetry is text: the example line's markup is escaped, never run.
    assert "<script>alert('telemetry')" not in text and "&lt;script&gt;alert(&#39;telemetry&#39;)" in text
    # The proposal with its gate state, the policy's reasons, and what the browser will sign.
    assert "restart_deployment" in text and "Rolling restart of a deployment." in text
    assert "state_changing action needs 1 approval, has 0" in text
    assert '"canonical_action": "{\\"action\\":\\"restart_deployment\\"' in text

    gate = await page(reader, f"{console.url}/proposals/{pid}/gate", "needs approval")
    assert 'data-decide="approve"' in gate and "disabled" not in gate.split("gate-actions")[1]
    handbook = await page(reader, f"{console.url}/handbook/pm-2025-09-orders-db-migration-lock-connection-exhaustion",
                          "Symptoms")
    assert "<h1" in handbook and "rb-orders-db-connection-exhaustion" in handbook
    async with reader.get(f"{console.url}/incidents/nothing-here") as response:
        assert response.status == 404 and "keeps no incident" in await response.text()


async def test_the_event_stream_announces_records_and_replays_what_a_page_missed(console_settings, console,
                                                                                 reader):
    s = console_settings
    pid = f"prop-{uuid.uuid4().hex[:8]}"
    since = console.store.seq
    publish(s, "aiops.proposals", "Proposal", [proposal(pid)], key=lambda r: r["id"])
    publish(s, "aiops.executions", "Execution", [{**samples.execution(), "id": "e-" + pid, "proposal_id": pid}],
            key=lambda r: r["proposal_id"])

    async def events(url: str, wanted: int, **headers: str) -> list[tuple[str, str, str]]:
        seen: list[tuple[str, str, str]] = []
        async with reader.get(url, headers=headers) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            fields: dict[str, str] = {}
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if not line:
                    if fields.get("event") in ("proposal", "execution") and pid in fields.get("data", ""):
                        seen.append((fields.get("id", ""), fields["event"], fields["data"]))
                        if len(seen) == wanted:
                            return seen
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        return seen

    replayed = await asyncio.wait_for(events(f"{console.url}/events?since={since}", 2), 30)
    # Two topics: the follower may read either first, but each change has its own increasing number.
    by_kind = {event: (int(seq), data) for seq, event, data in replayed}
    assert set(by_kind) == {"proposal", "execution"}
    assert '"incident_id":"inc-7d1f"' in by_kind["proposal"][1] and '"status":"succeeded"' in by_kind["execution"][1]
    first, second = sorted(replayed, key=lambda e: int(e[0]))
    assert int(first[0]) < int(second[0])
    # A reconnecting browser sends Last-Event-ID: only what came after it is replayed.
    after_first = await asyncio.wait_for(events(f"{console.url}/events?since=0", 1,
                                                **{"Last-Event-ID": first[0]}), 30)
    assert after_first[0][1] == second[1]


async def test_approvals_go_through_the_approvals_endpoint_to_kafka(console_settings, console, reader, tmp_path):
    s = console_settings
    key = KeyStore(tmp_path).create("dana", ["sre"])
    pid = f"prop-{uuid.uuid4().hex[:8]}"
    token = sign_approval(key.load_private_key(), key.kid, proposal_id=pid, action_hash="ab" * 32,
                          decision="approve", subject="dana", ttl_s=60)
    url = f"{console.url}/api/v1/approvals"
    body = {"proposal_id": pid, "decision": "approve", "token": token, "source": "console", "comment": "go"}
    same_origin = {"Origin": console.url}
    async with reader.post(url, json={**body, "proposal_id": "prop-other"}, headers=same_origin) as response:
        assert response.status == 422 and "token is for proposal" in (await response.json())["error"]
    async with reader.post(url, json=body, headers={"Origin": "http://evil.example"}) as response:
        assert response.status == 403
    form = {**same_origin, "Content-Type": "application/x-www-form-urlencoded"}
    async with reader.post(url, data="proposal_id=x", headers=form) as response:
        assert response.status == 415
    async with aiohttp.ClientSession() as stranger:  # no read token: not even the ingress answers
        async with stranger.post(url, json=body) as response:
            assert response.status == 401
    async with reader.post(url, json=body, headers=same_origin) as response:
        answer = await response.json()
        assert response.status == 202, answer
        assert answer["topic"] == s.topic("aiops.approvals")

    consumer = AIOKafkaConsumer(s.topic("aiops.approvals"), bootstrap_servers=s.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=f"t-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        codec = codec_for("Approval", s.topic("aiops.approvals"), s)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records = [codec.decode(m.value) for msgs in batch.values() for m in msgs]
            mine = [r for r in records if r["proposal_id"] == pid]
            if mine:
                assert mine[0]["token"] == token and mine[0]["source"] == "console" and mine[0]["comment"] == "go"
                break
        else:
            raise AssertionError("the approval never reached aiops.approvals")
    finally:
        await consumer.stop()


async def test_key_status_comes_from_opa(console, reader):
    async with reader.get(f"{console.url}/keys/nobody-000000000000/status") as response:
        status = await response.json()
        assert response.status == 200 and status == {"kid": "nobody-000000000000", "enrolled": False, "name": None,
                                                      "groups": [], "problem": None}
    async with reader.get(f"{console.url}/keys/..%2Fsecrets/status") as response:
        assert response.status in (400, 404)


async def test_the_trust_page_shows_each_selectors_record(console_settings, console, reader):
    s = console_settings
    pid = f"prop-{uuid.uuid4().hex[:8]}"
    record = {**proposal(pid), "parameters": {"environment": "prod", "namespace": "trust-ns", "deployment": "api"},
              "target": {"environment": "prod", "namespace": "trust-ns", "service": "api"}}
    publish(s, "aiops.proposals", "Proposal", [record], key=lambda r: r["id"])
    approved = [{"decision": "approve", "source": "cli", "approver": "alice", "counted": True, "reason": None}]
    publish(s, "aiops.decisions", "Decision", [{**samples.decision(), "id": "d-t-" + pid, "proposal_id": pid,
                                                "allow": True, "evaluated_at": NOW + timedelta(seconds=90),
                                                "approvals_considered": approved}],
            key=lambda r: r["proposal_id"])
    publish(s, "aiops.executions", "Execution", [{**samples.execution(), "id": "e-t-" + pid, "proposal_id": pid,
                                                  "started_at": NOW, "finished_at": NOW}],
            key=lambda r: r["proposal_id"])
    publish(s, "aiops.outcomes", "Outcome", [{**samples.outcome(), "proposal_id": pid, "verdict": "harmful",
                                              "namespace": "trust-ns"}], key=lambda r: r["proposal_id"])
    text = await page(reader, f"{console.url}/trust", "prod/trust-ns", "90 s")
    row = text.split("prod/trust-ns")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0].strip() for c in row.split("<td>")[1:]]
    # approved, autonomous, helpful, no effect, harmful
    assert cells[1:6] == ["1", "0", "0", "0", "1"], cells
    assert "gated" in row and 'aria-current="page"' in text.split("/trust")[1][:40]
