"""Reading the audit topics (proposals, decisions, executions, outcomes, incidents) from the beginning, decoded.

One consumer assigned to every partition of the topics asked for, no group (nothing is committed: the trust
ladder re-reads its history at every start). A record that does not decode is logged and skipped (the
gatekeeper and triage dead-letter what they consume; this is a read-only follower).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from aiops.core.avro import AvroCodec, codec_for
from aiops.core.deadletter import DeadLetter, decode_or_letter, skip_undecodable
from aiops.core.errors import SerializationError
from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, EXECUTIONS, INCIDENTS, OUTCOMES, PROPOSALS
from streams.output_records import Decision, Execution, Incident, Outcome, Proposal

RECORDS: dict[str, type[Any]] = {PROPOSALS: Proposal, DECISIONS: Decision, EXECUTIONS: Execution,
                                 OUTCOMES: Outcome, INCIDENTS: Incident}
FOLLOWER = "trust-ladder"


@dataclass
class Audit:
    """Every record read so far, by topic (catalog name), in the order read."""

    proposals: list[Proposal] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # topics that do not exist (nothing to read)

    def add(self, name: str, record: Any) -> None:
        if name == PROPOSALS:
            self.proposals.append(record)
        elif name == DECISIONS:
            self.decisions.append(record)
        elif name == EXECUTIONS:
            self.executions.append(record)
        elif name == OUTCOMES:
            self.outcomes.append(record)


class AuditReader:
    """A consumer over some of the audit topics from their beginning; `poll()` returns (catalog name, record)."""

    def __init__(self, settings: Settings, names: tuple[str, ...]):
        self.settings = settings
        self.names = {settings.topic(n): n for n in names}
        self.codecs: dict[str, AvroCodec] = {n: codec_for(RECORDS[n].__name__, settings.topic(n), settings)
                                             for n in names}
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                         isolation_level="read_committed",
                                         max_partition_fetch_bytes=settings.max_record_bytes + 65_536)
        self.end: dict[TopicPartition, int] = {}
        self.missing: list[str] = []

    async def start(self) -> None:
        await self.consumer.start()
        partitions = await asyncio.to_thread(_partitions, self.settings.kafka_bootstrap)
        # A topic that does not exist is not asked for by name (the broker might create it): it has no records.
        self.missing = sorted(t for t in self.names if t not in partitions)
        tps = [TopicPartition(topic, p) for topic in self.names for p in partitions.get(topic, [])]
        if not tps:
            return
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self.end = await self.consumer.end_offsets(tps)

    async def caught_up(self) -> bool:
        """True once every partition was read up to where it ended at start."""
        for tp, end in self.end.items():
            if await self.consumer.position(tp) < end:
                return False
        return True

    def _decoder(self, name: str) -> Callable[[bytes | None], Any]:
        codec, record = self.codecs[name], RECORDS[name]

        def decode(value: bytes | None) -> Any:
            if value is None:
                if name == INCIDENTS:
                    return None  # a merged incident's tombstone
                raise SerializationError(f"{name} record has no value")
            try:
                return record.from_avro(codec.decode(value))
            except ValueError as exc:
                raise SerializationError(f"{name} record does not validate: {exc}") from None

        return decode

    async def poll(self, timeout_ms: int = 500) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if not self.end:
            await asyncio.sleep(timeout_ms / 1000)  # nothing assigned (no topic exists yet)
            return out
        for tp, batch in (await self.consumer.getmany(timeout_ms=timeout_ms)).items():
            name = self.names[tp.topic]
            decode = self._decoder(name)
            for message in batch:
                result = decode_or_letter(decode, message, self.settings.max_record_bytes)
                if isinstance(result, DeadLetter):
                    skip_undecodable(result, FOLLOWER)
                elif result is not None:
                    out.append((name, result))
        return out

    async def stop(self) -> None:
        await self.consumer.stop()


def _partitions(bootstrap: str) -> dict[str, list[int]]:
    """Every topic's partition numbers, from the cluster's metadata (aiokafka's consumer has no public call that
    returns partitions of topics it is not subscribed to)."""
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    return {name: sorted(meta.partitions) for name, meta in topics.items()}


async def read_all(settings: Settings, names: tuple[str, ...] = (PROPOSALS, DECISIONS, EXECUTIONS, OUTCOMES)) -> Audit:
    """Everything on these topics now (for `aiops trust report`)."""
    reader = AuditReader(settings, names)
    audit = Audit()
    await reader.start()
    audit.missing = reader.missing
    try:
        while not await reader.caught_up():
            for name, record in await reader.poll():
                audit.add(name, record)
    finally:
        await reader.stop()
    return audit
