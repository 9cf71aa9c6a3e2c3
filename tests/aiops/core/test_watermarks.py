"""Watermarks of partitions the broker is still settling: a topic created a moment ago, and one that never comes."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

from aiops.core.watermarks import watermarks

pytestmark = pytest.mark.integration


def test_a_topic_created_a_moment_ago_has_watermarks(services, admin, kafka_produce):
    # Asked at once, the raw client answers _UNKNOWN_PARTITION or NOT_LEADER_FOR_PARTITION for many of these
    # partitions (13 of 60 in one run): the leader has not reached this client yet.
    names = [f"test.watermarks.{uuid.uuid4().hex[:12]}" for _ in range(20)]
    try:
        for name in names:
            admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(timeout=30)
            consumer = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": "test-watermarks"})
            try:
                assert [watermarks(consumer, TopicPartition(name, p)) for p in range(3)] == [(0, 0)] * 3
            finally:
                consumer.close()
        kafka_produce(names[0], [(b"k", b"v")] * 4)
        consumer = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": "test-watermarks"})
        try:
            assert sum(watermarks(consumer, TopicPartition(names[0], p))[1] for p in range(3)) == 4
        finally:
            consumer.close()
    finally:
        admin.delete_topics(names)


def test_a_partition_that_never_appears_fails_after_the_timeout(services):
    consumer = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": "test-watermarks"})
    started = time.monotonic()
    try:
        with pytest.raises(KafkaException):
            watermarks(consumer, TopicPartition(f"test.missing.{uuid.uuid4().hex[:12]}", 0), timeout_s=1.5)
    finally:
        consumer.close()
    assert 1.0 <= time.monotonic() - started < 10
