"""The shape every normalize agent shares: raw bytes in, canonical Avro records out, dead letters for the rest.

One input message yields zero or more records (a webhook payload with several alerts, an OTLP request
with many spans), judged one by one: the readable ones go on, and each one that cannot be read becomes its
own dead letter on `<input>.dlq` (that record alone as the value, its position, service and reason in
headers). A message unreadable as a whole becomes one dead letter with the original key and value,
untouched. Nothing a message holds can stop the agent; offsets are committed only after the producer
flushed what the message gave.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from aiops.core.deadletter import dead_letter_topic
from aiops.core.fetch_guard import fetch_failure
from streams.agents._deadletters import dead_letter_message
from streams.app import StreamContext
from streams.ingest.errors import IngestError
from streams.ingest.verdicts import Rejected
from streams.records import CanonicalRecord

log = logging.getLogger(__name__)

# Record batch and header bytes that come on top of a key and value.
RECORD_OVERHEAD = 1024


@dataclass(frozen=True)
class Normalizer:
    """One raw input topic normalised into one canonical topic."""

    name: str  # the agent's name, a verb phrase: normalize_alerts
    source: str  # catalog name of the raw topic
    sink: str  # catalog name of the canonical topic
    record: str  # Avro record name of the canonical topic
    decode: Callable[[bytes | None], Sequence[CanonicalRecord]]
    key: Callable[[Any], str]  # the canonical record's Kafka key


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def add_normalizer(app: faust.App, ctx: StreamContext, normalizer: Normalizer) -> faust.types.AgentT:
    """Declare the topics and the agent of one normalizer on the app."""
    source_name = ctx.topic(normalizer.source)
    source_topic = _raw_topic(app, source_name)
    sink_topic = _raw_topic(app, ctx.topic(normalizer.sink))
    dead_letters = _raw_topic(app, dead_letter_topic(source_name))
    codec = ctx.codec(normalizer.record, normalizer.sink)
    max_record_bytes = app.conf.producer_max_request_size - RECORD_OVERHEAD

    async def normalize(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                unreadable = fetch_failure(message.headers)
                if unreadable:
                    raise IngestError(unreadable)
                records = normalizer.decode(message.value)
                rejected = list(getattr(records, "rejected", ()))
                encoded = []
                for index, record in enumerate(records):
                    key, value = normalizer.key(record).encode("utf-8"), codec.encode(record.to_avro())
                    if len(key) + len(value) > max_record_bytes:
                        rejected.append(Rejected(f"record {index}", f"a {normalizer.record} of "
                                                 f"{len(key) + len(value)} bytes is over the {max_record_bytes}-byte "
                                                 "record limit", getattr(record, "service", None)))
                    else:
                        encoded.append((key, value))
            except Exception as exc:  # every failure of a whole message becomes its dead letter
                await dead_letter_message(dead_letters, message, exc)
                continue
            for key, value in encoded:
                await sink_topic.send(key=key, value=value)
            for rejection in rejected:
                await dead_letter_message(dead_letters, message, rejection.error(), rejection.original)

    return app.agent(source_topic, name=normalizer.name)(normalize)
