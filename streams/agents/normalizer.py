"""The shape every normalize agent shares: raw bytes in, canonical Avro records out, dead letters for the rest.

One input message yields zero or more records (a webhook payload with several alerts, an OTLP request
with many spans), judged one by one: the readable ones go on, and each one that cannot be read, validated or
encoded within the record size limit becomes its own dead letter on `<input>.dlq` (that record alone as the
value, its position, service and reason in headers). A message unreadable as a whole becomes one dead letter
with the original key and value, untouched. Nothing a message holds can stop the agent; offsets are
committed only after the producer flushed what the message gave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from aiops.core.avro import AvroCodec
from aiops.core.deadletter import DeadLetter
from streams.app import StreamContext
from streams.ingest.verdicts import Rejected
from streams.records import CanonicalRecord
from streams.topics import Input, raw_topic

Encoded = tuple[list[tuple[bytes, bytes]], list[Rejected]]
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

    def encoder(self, codec: AvroCodec, max_record_bytes: int) -> Callable[[bytes | None], Encoded]:
        """Raw value → the (key, value) pairs to produce and the records rejected on their own; raises when the
        message as a whole cannot be read."""

        def encode(value: bytes | None) -> Encoded:
            records = self.decode(value)
            rejected = list(getattr(records, "rejected", ()))
            encoded = []
            for index, record in enumerate(records):
                key, data = self.key(record).encode("utf-8"), codec.encode(record.to_avro())
                if len(key) + len(data) > max_record_bytes:
                    rejected.append(Rejected(f"record {index}", f"a {self.record} of {len(key) + len(data)} bytes "
                                             f"is over the {max_record_bytes}-byte record limit",
                                             getattr(record, "service", None)))
                else:
                    encoded.append((key, data))
            return encoded, rejected

        return encode


def add_normalizer(app: faust.App, ctx: StreamContext, normalizer: Normalizer) -> faust.types.AgentT:
    """Declare the topics and the agent of one normalizer on the app."""
    max_record_bytes = app.conf.producer_max_request_size - RECORD_OVERHEAD
    encode = normalizer.encoder(ctx.codec(normalizer.record, normalizer.sink), max_record_bytes)
    source = Input.declare(app, ctx, normalizer.source, encode)
    sink = raw_topic(app, ctx, normalizer.sink)

    async def normalize(stream: faust.StreamT) -> None:
        async for message, (records, rejected) in source.decoded(stream):
            for key, value in records:
                await sink.send(key=key, value=value)
            for rejection in rejected:  # that record alone (the whole message when it cannot stand alone)
                await source.dead_letter(DeadLetter(message.key, rejection.original or message.value,
                                                    rejection.error(), message.topic, message.partition,
                                                    message.offset))

    return app.agent(source.topic, name=normalizer.name)(normalize)
