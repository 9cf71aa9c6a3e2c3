"""A consumer group's lag per partition, read from the admin API without joining the group."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from aiops.core.lag import GroupLag

pytestmark = pytest.mark.integration


def test_lag_counts_from_the_committed_offset_or_the_log_start(services, new_topic, new_group, kafka_produce):
    topic = new_topic(partitions=2)
    positions = kafka_produce(topic, [(f"k{i}".encode(), b"v") for i in range(40)])
    ends = {p: max(o for q, o in positions if q == p) + 1 for p, _ in positions}
    assert set(ends) == {0, 1}, "the keys should spread over both partitions"
    group = new_group()
    committer = Consumer({"bootstrap.servers": services.kafka_bootstrap, "group.id": group,
                          "enable.auto.commit": False})
    try:
        committer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)  # read 2 records of partition 0
    finally:
        committer.close()

    with GroupLag(services.kafka_bootstrap) as lag:
        # Partition 1, never committed, counts from its start; a topic that does not exist is left out.
        assert lag.per_partition(group, [topic, f"{topic}-missing"]) == {(topic, 0): ends[0] - 2, (topic, 1): ends[1]}
        assert lag.total(group, [topic]) == 40 - 2
        assert lag.total(new_group(), [topic]) == 40
        assert lag.total(group, []) == 0
