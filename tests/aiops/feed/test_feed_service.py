"""The feed on the real broker: Avro records on uniquely prefixed output topics come out of its endpoints,
newest first and deduplicated, and garbage on a topic does not stop it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.feed.server import FeedService
from aiops.feed.views import VIEWS
from tests import samples
from tests.kafka_io import produce

pytestmark = pytest.mark.integration

T0 = samples.T0


@pytest.fixture
def feed_settings(settings: Settings, admin: AdminClient) -> Iterator[Settings]:
    """Settings with a unique topic prefix, and the four output topics created under it."""
    prefix = f"feed-{uuid.uuid4().hex[:10]}."
    topics = {prefix + view.topic: ("compact" if view.version_field else "delete") for view in VIEWS}
    futures = admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1,
                                            config={"cleanup.policy": policy}) for name, policy in topics.items()],
                                  operation_timeout=30)
    for future in futures.values():
        future.result(timeout=30)
    yield Settings(kafka_bootstrap=settings.kafka_bootstrap, opa_url=settings.opa_url, topic_prefix=prefix)
    for future in admin.delete_topics(list(topics), operation_timeout=30).values():
        try:
            future.result(timeout=30)
        except Exception:  # already gone is fine
            pass


def encoded(settings: Settings, topic: str, record_name: str, records: list[dict[str, Any]],
            key: Callable[[dict[str, Any]], str]) -> list[tuple[bytes, bytes]]:
    codec = codec_for(record_name, settings.topic(topic), settings)
    return [(key(r).encode(), codec.encode(r)) for r in records]


async def publish(settings: Settings, topic: str, items: list[tuple[bytes | None, bytes | None]]) -> None:
    await asyncio.to_thread(produce, settings.kafka_bootstrap, settings.topic(topic), items)


async def wait_for(session: aiohttp.ClientSession, url: str, condition: Callable[[Any], bool], what: str,
                   timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            if response.status == 200:
                body = await response.json()
                if condition(body):
                    return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last answer: {body}")


async def test_feed_serves_the_output_topics(feed_settings: Settings):
    s = feed_settings
    # Before the feed starts: three versions of one incident out of order, another incident, and garbage.
    incident = samples.incident()
    older = {**incident, "id": "inc-older", "updated_at": T0}
    await publish(s, "aiops.incidents", [
        *encoded(s, "aiops.incidents", "Incident",
                 [{**incident, "version": 1, "status": "open"}, {**incident, "version": 3},
                  {**incident, "version": 2, "status": "open"}, older], key=lambda r: r["id"]),
        (b"garbage", b"\xc3\x01 not an incident at all"),
    ])
    await publish(s, "aiops.proposals", encoded(s, "aiops.proposals", "Proposal", [samples.proposal()],
                                                key=lambda r: r["id"]))
    await publish(s, "aiops.decisions", [(b"prop-1", b"{\"allow\": true}"), *encoded(
        s, "aiops.decisions", "Decision", [samples.decision()], key=lambda r: r["proposal_id"])])
    await publish(s, "aiops.executions", encoded(s, "aiops.executions", "Execution", [samples.execution()],
                                                 key=lambda r: r["proposal_id"]))

    service = FeedService(s, "127.0.0.1", 0)
    await service.start()
    try:
        async with aiohttp.ClientSession() as session:
            incidents = await wait_for(session, f"{service.url}/incidents", lambda b: len(b) == 2, "two incidents")
            assert [r["id"] for r in incidents] == ["inc-7d1f", "inc-older"]  # newest first
            assert incidents[0]["version"] == 3 and incidents[0]["status"] == "updated"
            assert incidents[0]["root_cause_service"] == "orders-db"
            assert incidents[0]["updated_at"] == "2026-11-26T10:03:00.000Z"

            proposals = await wait_for(session, f"{service.url}/proposals", lambda b: len(b) == 1, "the proposal")
            assert proposals[0]["action"] == "restart_deployment" and proposals[0]["target_service"] == "orders-api"
            decisions = await wait_for(session, f"{service.url}/decisions", lambda b: len(b) == 1, "the decision")
            assert decisions[0]["outcome"] == "deny" and "needs 1 approval" in decisions[0]["reasons"]
            executions = await wait_for(session, f"{service.url}/executions", lambda b: len(b) == 1, "execution")
            assert executions[0]["status"] == "succeeded" and executions[0]["started_at"].endswith("Z")

            health = await wait_for(session, f"{service.url}/healthz", lambda b: b["status"] == "ok", "healthy")
            assert health["views"]["incidents"]["decode_errors"] == 1
            assert health["views"]["decisions"]["decode_errors"] == 1
            assert health["views"]["incidents"]["topic"] == s.topic("aiops.incidents")

            # While it runs: garbage, then a newer proposal; the feed keeps reading past the garbage.
            await publish(s, "aiops.proposals", [(b"x", b"\x00\x00\x00\x00\x01junk"), (b"y", None), *encoded(
                s, "aiops.proposals", "Proposal",
                [{**samples.proposal(), "id": "prop-2", "created_at": T0 + timedelta(minutes=9)}],
                key=lambda r: r["id"])])
            proposals = await wait_for(session, f"{service.url}/proposals", lambda b: len(b) == 2, "the new one")
            assert [r["id"] for r in proposals] == ["prop-2", "prop-1"]
            async with session.get(f"{service.url}/proposals?limit=1") as response:
                assert [r["id"] for r in await response.json()] == ["prop-2"]
            async with session.get(f"{service.url}/proposals?limit=many") as response:
                assert response.status == 400
            async with session.get(f"{service.url}/healthz") as response:
                assert (await response.json())["views"]["proposals"]["decode_errors"] == 1
            async with session.get(f"{service.url}/metrics") as response:
                assert response.status == 200 and "process_" in await response.text()
    finally:
        await service.stop()


async def test_each_feed_process_reads_from_the_beginning_in_its_own_group(feed_settings: Settings):
    s = feed_settings
    await publish(s, "aiops.executions", encoded(s, "aiops.executions", "Execution", [samples.execution()],
                                                 key=lambda r: r["proposal_id"]))
    groups = set()
    for _ in range(2):
        service = FeedService(s, "127.0.0.1", 0)
        await service.start()
        try:
            groups.add(service.follower.group_id)
            async with aiohttp.ClientSession() as session:
                await wait_for(session, f"{service.url}/executions", lambda b: len(b) == 1, "the execution")
        finally:
            await service.stop()
    assert len(groups) == 2
