"""Producing to and reading from the real broker in tests, waiting on conditions with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int


def produce(bootstrap: str, topic: str, items: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True})
    count = 0
    for key, value in items:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
        count += 1
    assert producer.flush(60) == 0, "not every record was delivered within 60 s"
    return count


class TopicReader:
    """Reads a topic from the beginning and keeps everything read, so tests can wait for more."""

    def __init__(self, bootstrap: str, topic: str):
        self.records: list[Record] = []
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:10]}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.consumer.subscribe([topic])

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                raise AssertionError(f"consumer error: {msg.error()}")
            self.records.append(Record(msg.key(), msg.value(), dict(msg.headers() or []), msg.partition(),
                                       msg.offset()))

    def wait_until(self, condition: Callable[[list[Record]], bool], timeout: float, what: str,
                   diagnostics: Callable[[], str] = lambda: "") -> list[Record]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if condition(self.records):
                return self.records
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; read {len(self.records)} "
                             f"records\n{diagnostics()}")

    def close(self) -> None:
        self.consumer.close()
