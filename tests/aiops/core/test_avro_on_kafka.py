"""Avro records through the real broker, produced and consumed with aiokafka and with confluent-kafka."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer

from aiops.core.avro import SchemaSet, SingleObjectCodec
from aiops.core.errors import SerializationError
from aiops.core.paths import PROJECT_ROOT
from tests import samples
from tests.aiops.core.test_codec import older_alert_schema

SCHEMAS = SchemaSet.load(PROJECT_ROOT / "schemas")
pytestmark = pytest.mark.integration


async def aiokafka_roundtrip(bootstrap: str, topic: str, group: str, values: list[bytes]) -> list[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    received: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(values):
                batch = await consumer.getmany(timeout_ms=1000)
                for messages in batch.values():
                    received.extend(m.value for m in messages)
    finally:
        await consumer.stop()
    return received


def confluent_roundtrip(bootstrap: str, topic: str, group: str, values: list[bytes]) -> list[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value in values:
        producer.produce(topic, value=value, key=b"k")
    assert producer.flush(30) == 0, "confluent producer did not deliver within 30 s"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    received: list[bytes] = []
    try:
        import time

        deadline = time.monotonic() + 30
        while len(received) < len(values) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            received.append(msg.value())
    finally:
        consumer.close()
    return received


@pytest.mark.parametrize("name", sorted(samples.ALL))
async def test_every_schema_through_kafka_with_aiokafka(name, services, new_topic, new_group):
    codec = SingleObjectCodec(SCHEMAS[name])
    record = samples.ALL[name]()
    received = await aiokafka_roundtrip(services.kafka_bootstrap, new_topic(name.lower()), new_group(),
                                        [codec.encode(record)])
    assert [codec.decode(v) for v in received] == [record]


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_every_schema_through_kafka_with_confluent_kafka(name, services, new_topic, new_group):
    codec = SingleObjectCodec(SCHEMAS[name])
    record = samples.ALL[name]()
    received = confluent_roundtrip(services.kafka_bootstrap, new_topic(name.lower()), new_group(),
                                   [codec.encode(record)])
    assert [codec.decode(v) for v in received] == [record]


async def test_produced_with_confluent_kafka_read_with_aiokafka(services, new_topic, new_group):
    codec = SingleObjectCodec(SCHEMAS["Proposal"])
    topic = new_topic("cross")
    producer = Producer({"bootstrap.servers": services.kafka_bootstrap})
    producer.produce(topic, value=codec.encode(samples.proposal()))
    assert producer.flush(30) == 0
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=services.kafka_bootstrap, group_id=new_group(),
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            msg = await consumer.getone()
    finally:
        await consumer.stop()
    assert codec.decode(msg.value) == samples.proposal()


async def test_newer_reader_reads_older_records_from_kafka(services, new_topic, new_group):
    v1 = older_alert_schema()
    old = {k: v for k, v in samples.alert().items() if k not in ("trace_id", "generator_url")}
    values = [SingleObjectCodec(v1).encode(old), SingleObjectCodec(SCHEMAS["Alert"]).encode(samples.alert())]
    received = await aiokafka_roundtrip(services.kafka_bootstrap, new_topic("evolve"), new_group(), values)
    reader = SingleObjectCodec(SCHEMAS["Alert"], writers=[v1])
    first, second = (reader.decode(v) for v in received)
    assert first["trace_id"] is None and first["fingerprint"] == old["fingerprint"]
    assert second == samples.alert()


async def test_truncated_and_foreign_messages_from_kafka_give_project_error(services, new_topic, new_group):
    codec = SingleObjectCodec(SCHEMAS["Incident"])
    good = codec.encode(samples.incident())
    bad = [good[: len(good) // 2], b'{"hello": "json"}', b"\x00\x00\x00\x00\x07\x02\x41", good[:9]]
    received = await aiokafka_roundtrip(services.kafka_bootstrap, new_topic("bad"), new_group(), bad + [good])
    for value in received[:-1]:
        with pytest.raises(SerializationError):
            codec.decode(value)
    assert codec.decode(received[-1]) == samples.incident()
