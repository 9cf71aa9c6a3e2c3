"""Kafka in the tests: factory fixtures for topics, groups, producers and readers on the session's broker, and the
plain functions behind them. Reads wait on conditions with a deadline; nothing sleeps and hopes.

Registered as a plugin by tests/conftest.py, so every test can ask for `new_topic`, `new_group`, `kafka_produce`
and `topic_reader`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from aiops.core.deadletter import read_headers
from aiops.core.watermarks import watermarks

Items = Sequence[tuple[bytes | None, bytes | None]]


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]  # as text (aiops.core.deadletter.read_headers)
    partition: int
    offset: int


def produce(bootstrap: str, topic: str, items: Items, timeout_s: float = 120.0) -> list[tuple[int, int]]:
    """Produce every (key, value) in order, acknowledged by the broker; (partition, offset) of each, in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True,
                         "acks": "all", "message.max.bytes": 2_000_000, "queue.buffering.max.kbytes": 512_000})
    positions: list[tuple[int, int] | None] = [None] * len(items)
    errors: list[str] = []

    def report(index: int) -> Callable[..., None]:
        def on_delivery(error: KafkaError | None, message: object) -> None:
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
    """Reads every partition of a topic from the beginning (no consumer-group offsets), keeping what it read, so a
    test can wait for more or read to the end for exact counts."""

    def __init__(self, bootstrap: str, topic: str, timeout_s: float = 30.0):
        self.topic = topic
        self.records: list[Record] = []
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:10]}",
                                  "enable.auto.commit": False, "fetch.max.bytes": 52_428_800})
        deadline = time.monotonic() + timeout_s
        while True:  # a topic created a moment ago may not be in the metadata yet
            metadata = self.consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if metadata is not None and metadata.error is None and metadata.partitions:
                break
            assert time.monotonic() < deadline, f"topic {topic} has no partitions after {timeout_s:.0f} s"
            time.sleep(0.2)
        self.partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
        self.consumer.assign(self.partitions)

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.consumer.close()

    def poll(self, timeout_s: float = 0.5) -> int:
        """Read what arrived (waiting up to timeout_s); how many records that was."""
        count = 0
        for message in self.consumer.consume(num_messages=5000, timeout=timeout_s):
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error on {self.topic}: {message.error()}")
            self.records.append(Record(message.key(), message.value(), read_headers(message.headers()),
                                       message.partition(), message.offset()))
            count += 1
        return count

    def wait_until(self, condition: Callable[[list[Record]], bool], timeout: float, what: str,
                   diagnostics: Callable[[], str] = lambda: "") -> list[Record]:
        """Every record read so far, once `condition` holds for them; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if condition(self.records):
                return self.records
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} on {self.topic}; "
                                     f"read {len(self.records)} records\n{diagnostics()}")

    def read_to_end(self, timeout_s: float = 60.0) -> list[Record]:
        """Everything up to the current end of each partition (for exact counts)."""
        ends = {}
        for tp in self.partitions:
            _low, high = watermarks(self.consumer, tp)
            ends[tp.partition] = high
        deadline = time.monotonic() + timeout_s
        while True:
            if all(end == 0 or self._position(p) >= end for p, end in ends.items()):
                return self.records
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {self.topic} to its end {ends} within {timeout_s:.0f} s")
            self.poll()

    def _position(self, partition: int) -> int:
        [tp] = self.consumer.position([TopicPartition(self.topic, partition)])
        return tp.offset if tp.offset >= 0 else 0


def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    """Delete topics, waiting for the broker; ones already gone are fine."""
    if not names:
        return
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(list(names), operation_timeout=30).values():
        try:
            future.result(timeout=30)
        except Exception:  # already gone
            pass




def topics_starting(bootstrap: str, prefix: str) -> set[str]:
    """The broker's topics whose names start with prefix."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return {name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)}


# --- factory fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def admin(services) -> AdminClient:
    return AdminClient({"bootstrap.servers": services.kafka_bootstrap})


@pytest.fixture
def new_topic(services, admin: AdminClient) -> Iterator[Callable[..., str]]:
    """Factory: a uuid-named topic for this test only, deleted afterwards."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                config=config or {})], operation_timeout=30)
        futures[name].result(timeout=30)
        created.append(name)
        return name

    yield make
    delete_topics(services.kafka_bootstrap, created)


@pytest.fixture
def new_group() -> Callable[[], str]:
    """Factory: a uuid-named consumer group for this test only."""
    return lambda: f"test-group-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def kafka_produce(services) -> Callable[[str, Items], list[tuple[int, int]]]:
    """Factory: produce(topic, [(key, value), ...]) to the test broker, acknowledged; positions in order."""
    return lambda topic, items: produce(services.kafka_bootstrap, topic, items)


@pytest.fixture
def topic_reader(services) -> Iterator[Callable[[str], TopicReader]]:
    """Factory: a TopicReader on the test broker, closed after the test."""
    readers: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        readers.append(TopicReader(services.kafka_bootstrap, topic))
        return readers[-1]

    yield make
    for reader in readers:
        reader.close()
