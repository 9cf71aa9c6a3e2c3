"""Producing with confluent-kafka when its local queue is full: wait for room instead of failing."""

from __future__ import annotations

from typing import Any


def produce_waiting(producer: Any, topic: str, value: bytes | None, key: bytes | None = None,
                    headers: list[tuple[str, str | bytes | None]] | None = None) -> None:
    """`producer.produce(...)`, serving delivery reports while the queue is full (BufferError) until it fits."""
    while True:
        try:
            producer.produce(topic, key=key, value=value, headers=headers)
            return
        except BufferError:
            producer.poll(0.05)
