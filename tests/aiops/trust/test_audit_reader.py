"""`aiops trust report` reads every partition of the audit topics, and asks for no topic that does not exist."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from aiops.core.avro import codec_for
from aiops.core.settings import Settings
from aiops.core.topics import OUTCOMES, create_topics, delete_prefixed_topics
from aiops.trust.audit import read_all
from tests import samples
from tests.aiops.gatekeeper.conftest import wait_for_leaders
from tests.kafka_io import produce

pytestmark = pytest.mark.integration


async def test_every_partition_is_read_and_missing_topics_stay_missing(services):
    prefix = f"trust-{uuid.uuid4().hex[:8]}."
    settings = Settings(kafka_bootstrap=services.kafka_bootstrap, topic_prefix=prefix, default_partitions=3)
    try:
        missing = await read_all(settings)
        assert len(missing.missing) == 4 and missing.outcomes == []
        topics = AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).list_topics(timeout=10).topics
        assert not [t for t in topics if t.startswith(prefix)], "reading created topics"

        await asyncio.to_thread(create_topics, settings)
        await asyncio.to_thread(wait_for_leaders, settings)
        codec = codec_for("Outcome", settings.topic(OUTCOMES), settings)
        pids = [f"p-{n}" for n in range(12)]
        positions = produce(settings.kafka_bootstrap, settings.topic(OUTCOMES),
                            [(pid.encode(), codec.encode({**samples.outcome(), "proposal_id": pid})) for pid in pids])
        assert len({partition for partition, _ in positions}) > 1
        audit = await read_all(settings)
        assert audit.missing == [] and sorted(o.proposal_id for o in audit.outcomes) == sorted(pids)
    finally:
        await asyncio.to_thread(delete_prefixed_topics, settings.kafka_bootstrap, prefix)
