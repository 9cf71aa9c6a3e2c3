"""Following aiops.executions (all partitions, committed records only) from an hour back, for the policy's
per-target rate limit: every "started" Execution, whichever instance or tool wrote it, counts."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from aiops.core.avro import AvroCodec
from aiops.core.deadletter import DeadLetter, decode_or_letter, skip_undecodable
from aiops.core.errors import SerializationError
from aiops.core.settings import Settings
from aiops.gatekeeper.recent import HOUR_MS, RecentExecutions
from aiops.gatekeeper.records import to_ms

log = logging.getLogger("gatekeeper.tail")


async def follow_executions(settings: Settings, topic: str, partitions: set[int], codec: AvroCodec,
                            recent: RecentExecutions, now_ms: int) -> asyncio.Task[None]:
    """Read the last hour into `recent` (returns once caught up), then keep following in a task."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed",
                                max_partition_fetch_bytes=settings.max_record_bytes + 65_536)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    since = await consumer.offsets_for_times({tp: now_ms - HOUR_MS for tp in tps})
    end = await consumer.end_offsets(tps)
    for tp in tps:
        consumer.seek(tp, since[tp].offset if since.get(tp) else end[tp])

    def started(value: bytes | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if value is None:
            raise SerializationError("execution record has no value")
        execution = codec.decode(value)
        if execution["status"] != "started":
            return None
        return execution, json.loads(execution["request"]).get("target") or {}

    def take(records: dict[Any, list[Any]]) -> None:
        for batch in records.values():
            for record in batch:
                result = decode_or_letter(started, record, settings.max_record_bytes)
                if isinstance(result, DeadLetter):
                    # A follower re-reading the last hour at every start: triage dead-letters these.
                    skip_undecodable(result, "gatekeeper-execution-tail")
                elif result is not None:
                    execution, target = result
                    recent.recorded.add(execution["proposal_id"])
                    recent.add(execution["action"], target, execution["proposal_id"], to_ms(execution["started_at"]))

    pending = [tp for tp in tps if await consumer.position(tp) < end[tp]]
    while pending:
        take(await consumer.getmany(*pending, timeout_ms=1000))
        pending = [tp for tp in pending if await consumer.position(tp) < end[tp]]

    async def follow() -> None:
        try:
            while True:
                try:
                    take(await consumer.getmany(timeout_ms=1000))
                except KafkaError as exc:  # the broker is away for a while: keep following once it is back
                    log.warning("execution tail: %s; retrying", exc)
                    await asyncio.sleep(1)
        finally:
            await consumer.stop()

    return asyncio.create_task(follow())
