"""How far a consumer group is behind the end of the topics it reads, per partition.

The committed offsets come from the admin API (asking does not join the group, so a running stage is never
rebalanced by whoever measures it) and the ends from a probe consumer of its own. Used by `aiops bench soak`
(lag over time) and `aiops eval rca` (a case is done when the worker has read everything).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from aiops.core.watermarks import watermarks


class GroupLag:
    def __init__(self, bootstrap: str, timeout_s: float = 10.0):
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self.timeout_s = timeout_s
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"lag-probe-{uuid.uuid4().hex}",
                               "enable.auto.commit": False})

    def per_group(self, groups: Mapping[str, Iterable[str]]) -> dict[str, dict[tuple[str, int], int]]:
        """per_partition of each group, from one read of the cluster's metadata."""
        metadata = self.admin.list_topics(timeout=self.timeout_s).topics
        return {group: self._behind(group, topics, metadata) for group, topics in groups.items()}

    def per_partition(self, group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
        """(topic, partition) → records after the group's committed offset (after the log start when it has
        committed nothing there). Topics that do not exist (yet) are left out."""
        return self.per_group({group: topics})[group]

    def _behind(self, group: str, topics: Iterable[str], metadata: Mapping[str, Any]) -> dict[tuple[str, int], int]:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        partitions = [TopicPartition(name, p) for name in topics if name in metadata
                      for p in metadata[name].partitions]
        if not partitions:  # an empty list would ask for every partition the group has committed
            return {}
        future = self.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, partitions)])
        offsets = future[group].result(timeout=self.timeout_s).topic_partitions
        committed = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        behind = {}
        for tp in partitions:
            low, high = watermarks(self.probe, tp, self.timeout_s)
            offset = committed.get((tp.topic, tp.partition), -1)
            behind[(tp.topic, tp.partition)] = max(0, high - (offset if offset >= 0 else low))
        return behind

    def total(self, group: str, topics: Iterable[str]) -> int:
        return sum(self.per_partition(group, topics).values())

    def close(self) -> None:
        self.probe.close()

    def __enter__(self) -> GroupLag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
