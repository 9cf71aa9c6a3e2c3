"""Every Kafka compression codec (gzip, snappy, lz4, zstd) on every kind of consumer, with records produced by a
real client (confluent-kafka, librdkafka's codecs): the normalize worker (Faust on aiokafka) and a plain
aiokafka consumer as the gatekeeper and the feed use it. And a record batch that cannot be read (here: a codec
taken away from aiokafka) never blocks its partition: it surfaces as one marker record, and reading goes on."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer

from aiops.core import fetch_guard
from aiops.core.deadletter import ERROR_MESSAGE
from aiops.core.fetch_guard import FETCH_ERROR, FETCH_FIRST_OFFSET, FETCH_LAST_OFFSET
from tests.kafka_io import TopicReader
from tests.streams.ingest.samples import to_json_bytes, vector_line

pytestmark = pytest.mark.integration

CODECS = ("gzip", "snappy", "lz4", "zstd")


def produce_compressed(bootstrap: str, topic: str, values: list[bytes], codec: str, batch: bool = True) -> None:
    """Produce with librdkafka's codec, batched the way the Collector's exporter batches (one batch per flush)."""
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 200 if batch else 0,
                         "batch.num.messages": 10_000, "acks": "all"})
    for value in values:  # one partition: the order read back is the order written
        producer.produce(topic, value=value, partition=0)
    assert producer.flush(30) == 0


async def read_all(bootstrap: str, topic: str, count: int, timeout_s: float = 30.0) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=f"codec-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    got: list = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
    finally:
        await consumer.stop()
    return got


@pytest.mark.parametrize("codec", CODECS)
async def test_aiokafka_consumer_reads_each_codec(settings, new_topic, monkeypatch, codec):
    import aiokafka.codec

    topic = new_topic(f"codec-{codec}")
    values = [f"record {i} compressed with {codec} ".encode() * 20 for i in range(200)]
    produce_compressed(settings.kafka_bootstrap, topic, values, codec)
    got = await read_all(settings.kafka_bootstrap, topic, len(values))
    assert [r.value for r in got] == values
    # They really are compressed with that codec: without it, they are unreadable (and reported, not stuck).
    monkeypatch.setattr(aiokafka.codec, f"has_{codec}", lambda: False)
    fetch_guard.install()
    markers = await read_all(settings.kafka_bootstrap, topic, 1)
    assert markers[0].value is None and codec in fetch_guard.fetch_failure(markers[0].headers).lower()


@pytest.mark.parametrize("codec", CODECS)
def test_normalize_worker_reads_each_codec(settings, normalize_worker, codec):
    service = f"codec-{codec}-{uuid.uuid4().hex[:6]}"
    lines = [to_json_bytes(vector_line(service=service, message=f"line {i} of {codec}")) for i in range(100)]
    produce_compressed(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs.raw"), lines, codec)
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs")) as canonical:
        canonical.wait_until(lambda rs: sum(r.key == service.encode() for r in rs) == 100, 60,
                           f"100 {codec}-compressed lines normalised", diagnostics=normalize_worker.logs)
    assert normalize_worker.alive


async def test_unreadable_batch_becomes_one_marker_and_reading_goes_on(settings, new_topic, monkeypatch):
    import aiokafka.codec

    topic = new_topic("codec-missing")
    produce_compressed(settings.kafka_bootstrap, topic, [b"before"], "gzip")
    # Compressible values: librdkafka sends a batch uncompressed when compressing would not make it smaller.
    produce_compressed(settings.kafka_bootstrap, topic, [b"lost " * 200] * 3, "zstd")
    produce_compressed(settings.kafka_bootstrap, topic, [b"after"], "gzip")
    monkeypatch.setattr(aiokafka.codec, "has_zstd", lambda: False)  # as on an install without the codec extras
    fetch_guard.install()
    got = await read_all(settings.kafka_bootstrap, topic, 3)
    assert [r.value for r in got] == [b"before", None, b"after"]
    marker = dict(got[1].headers)
    assert (got[1].offset, marker[FETCH_FIRST_OFFSET], marker[FETCH_LAST_OFFSET]) == (3, b"1", b"3")
    assert marker[FETCH_ERROR].startswith(b"UnsupportedCodecError") and b"zstd" in marker[FETCH_ERROR].lower()
    assert fetch_guard.fetch_failure(got[1].headers).startswith("record batch at offsets 1-3 could not be read: ")


def test_marker_record_is_dead_lettered_by_the_normalize_agent(settings, normalize_worker):
    """The agent side of the guard: a marker (null value, fetch headers) becomes a dead letter naming the failure."""
    tag = uuid.uuid4().hex[:8]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(normalize_worker.topic("aiops.logs.raw"), key=tag.encode(), value=None,
                     headers=[(FETCH_ERROR, b"UnsupportedCodecError: zstd"), (FETCH_FIRST_OFFSET, b"7"),
                              (FETCH_LAST_OFFSET, b"9")])
    assert producer.flush(30) == 0
    with TopicReader(settings.kafka_bootstrap, normalize_worker.topic("aiops.logs.raw.dlq")) as dlq:
        got = dlq.wait_until(lambda rs: any(r.key == tag.encode() for r in rs), 60, "the marker's dead letter")
    [letter] = [r for r in got if r.key == tag.encode()]
    assert letter.headers[ERROR_MESSAGE] == \
        "record batch at offsets 7-9 could not be read: UnsupportedCodecError: zstd"
