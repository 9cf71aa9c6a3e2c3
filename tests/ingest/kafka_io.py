"""Kafka for the ingestion tests: produce a batch and learn each record's offset; read a topic from the
start, wait for a condition with a deadline, and read to the end to count exactly."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from aiops.core.deadletter import read_headers


@dataclass(frozen=True)
class Received:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    partition: int
    offset: int


def produce_batch(bootstrap: str, topic: str, items: Sequence[tuple[bytes | None, bytes | None]],
                  timeout_s: float = 120.0) -> list[tuple[int, int]]:
    """Produce every (key, value) in order; returns (partition, offset) of each, in the same order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True,
                         "acks": "all", "message.max.bytes": 2_000_000, "queue.buffering.max.kbytes": 512_000})
    positions: list[tuple[int, int] | None] = [None] * len(items)
    errors: list[str] = []

    def report(index: int):
        def on_delivery(error, message) -> None:
            if error is not None:
                errors.append(f"record {index}: {error}")
            else:
                positions[index] = (message.partition(), message.offset())
        return on_delivery

    for index, (key, value) in enumerate(items):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=report(index))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(timeout_s) == 0, f"not every record was delivered within {timeout_s:.0f} s"
    assert not errors, errors[:5]
    return [p for p in positions if p is not None]


class TopicReader:
    """Reads all partitions of a topic from the beginning (no consumer group offsets), keeping what it read."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.received: list[Received] = []
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:10]}",
                                  "enable.auto.commit": False, "fetch.max.bytes": 52_428_800})
        metadata = self.consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        assert partitions, f"topic {topic} has no partitions"
        self.partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
        self.consumer.assign(self.partitions)

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.consumer.close()

    def poll(self, timeout_s: float = 0.5) -> int:
        count = 0
        for message in self.consumer.consume(num_messages=5000, timeout=timeout_s):
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error on {self.topic}: {message.error()}")
            self.received.append(Received(message.key(), message.value(), read_headers(message.headers()),
                                          message.partition(), message.offset()))
            count += 1
        return count

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout_s: float, what: str,
                 diagnostics: Callable[[], str] = lambda: "") -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            if condition(self.received):
                return self.received
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} on {self.topic}; "
                                     f"read {len(self.received)} records\n{diagnostics()}")

    def read_to_end(self, timeout_s: float = 60.0) -> list[Received]:
        """Everything up to the current end of each partition (for exact counts)."""
        ends = {}
        for tp in self.partitions:
            _low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
            ends[tp.partition] = high
        deadline = time.monotonic() + timeout_s
        while True:
            if all(end == 0 or self._position(p) >= end for p, end in ends.items()):
                return self.received
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {self.topic} to its end {ends} within {timeout_s:.0f} s")
            self.poll()

    def _position(self, partition: int) -> int:
        [tp] = self.consumer.position([TopicPartition(self.topic, partition)])
        return tp.offset if tp.offset >= 0 else 0
