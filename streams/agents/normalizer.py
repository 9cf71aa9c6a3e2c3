"""The shape every normalize agent shares: raw bytes in, canonical Avro records out, dead letters for the rest.

One input message yields zero or more records (a webhook payload with several alerts, an OTLP request
with many spans) or, when anything in it cannot be decoded, validated or encoded within the record size
limit, one dead letter: the original key and value, untouched, on `<input>.dlq` with the error in headers.
Nothing a message holds can stop the agent; offsets are committed only after the producer flushed what the
message gave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from aiops.core.avro import AvroCodec
from streams.app import StreamContext
from streams.ingest.errors import IngestError
from streams.records import CanonicalRecord
from streams.topics import Input, raw_topic

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

    def encoder(self, codec: AvroCodec, max_record_bytes: int) -> Callable[[bytes | None], list[tuple[bytes, bytes]]]:
        """Raw value → the (key, value) pairs to produce; raises for anything that cannot be produced."""

        def encode(value: bytes | None) -> list[tuple[bytes, bytes]]:
            encoded = [(self.key(r).encode("utf-8"), codec.encode(r.to_avro())) for r in self.decode(value)]
            oversized = [len(k) + len(v) for k, v in encoded if len(k) + len(v) > max_record_bytes]
            if oversized:
                raise IngestError(f"a {self.record} of {oversized[0]} bytes is over the "
                                  f"{max_record_bytes}-byte record limit")
            return encoded

        return encode


def add_normalizer(app: faust.App, ctx: StreamContext, normalizer: Normalizer) -> faust.types.AgentT:
    """Declare the topics and the agent of one normalizer on the app."""
    max_record_bytes = app.conf.producer_max_request_size - RECORD_OVERHEAD
    encode = normalizer.encoder(ctx.codec(normalizer.record, normalizer.sink), max_record_bytes)
    source = Input.declare(app, ctx, normalizer.source, encode)
    sink = raw_topic(app, ctx, normalizer.sink)

    async def normalize(stream: faust.StreamT) -> None:
        async for _message, records in source.decoded(stream):
            for key, value in records:
                await sink.send(key=key, value=value)

    return app.agent(source.topic, name=normalizer.name)(normalize)
