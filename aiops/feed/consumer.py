"""Follows the output topics from the beginning with a fresh consumer group, decoding into the feed's store."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from aiops.core import fetch_guard
from aiops.core.avro import AvroCodec, SchemaSet, codec_for
from aiops.core.deadletter import DeadLetter, RawMessage, decode_or_letter, skip_undecodable
from aiops.core.settings import Settings
from aiops.feed.store import FeedStore
from aiops.feed.views import View

log = logging.getLogger(__name__)

RETRY_S = 2.0


@dataclass(frozen=True)
class FollowedTopic:
    name: str  # with the configured prefix
    view: View[Any]
    codec: AvroCodec


class OutputFollower:
    """Reads every view's topic into the store; a record that does not decode is counted and skipped.

    Nothing is committed: each process reads from the beginning under its own group id, so a restart rebuilds
    the same picture (records are kept by id, so reading one twice changes nothing).
    """

    def __init__(self, settings: Settings, store: FeedStore, group_id: str | None = None, name: str = "feed"):
        self.settings = settings
        self.store = store
        self.name = name  # who follows (the feed, the console): client id, group id and skip counter label
        self.group_id = group_id or settings.topic(f"aiops-{name}-{uuid.uuid4().hex[:12]}")
        schemas = SchemaSet.load(settings.schemas_dir)
        self.topics: dict[str, FollowedTopic] = {}
        for view in store.views.values():
            name = settings.topic(view.topic)
            self.topics[name] = FollowedTopic(name, view, codec_for(view.record.__name__, name, settings, schemas))
        self.assigned = False  # partitions assigned at least once: the feed is reading
        self.last_error: str | None = None

    def handle(self, topic: str, key: bytes | None, value: bytes | None, partition: int = -1,
               offset: int = -1) -> None:
        """Decode one record into the store; never raises for what is on the topic."""
        followed = self.topics[topic]
        view = followed.view
        if value is None:
            # A tombstone: on the compacted incidents topic it deletes that incident.
            if view.version_field and key:
                self.store.remove(view, key.decode("utf-8", "replace"))
            return
        self.store.records_read[view.endpoint] += 1
        # A bad record is data, not a reason to stop reading; the feed re-reads from the beginning at every
        # start, so it counts and skips (triage and the gatekeeper dead-letter what they consume).
        message = RawMessage(key, value, topic, partition, offset)
        result = decode_or_letter(lambda v: self.store.add(view, view.record.from_avro(followed.codec.decode(v))),
                                  message, self.settings.max_record_bytes)
        if isinstance(result, DeadLetter):
            self.store.decode_errors[view.endpoint] += 1
            skip_undecodable(result, self.name)

    def _consumer(self) -> AIOKafkaConsumer:
        fetch_guard.install()  # an unreadable record batch is logged, counted and skipped, never a stop
        return AIOKafkaConsumer(
            *self.topics, bootstrap_servers=self.settings.kafka_bootstrap, group_id=self.group_id,
            client_id=f"aiops-{self.name}", auto_offset_reset="earliest", enable_auto_commit=False,
            metadata_max_age_ms=30_000)

    async def run(self) -> None:
        """Consume until cancelled; broker trouble is logged and retried, never fatal."""
        while True:
            consumer = self._consumer()
            try:
                await consumer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                    if consumer.assignment():
                        self.assigned = True
                    for tp, messages in batches.items():
                        for message in messages:
                            self.handle(tp.topic, message.key, message.value, tp.partition, message.offset)
                    self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("feed consumer failed, retrying in %.0fs: %s", RETRY_S, self.last_error)
                await asyncio.sleep(RETRY_S)
            finally:
                try:
                    await consumer.stop()
                except Exception as exc:
                    log.debug("consumer stop: %s", exc)
