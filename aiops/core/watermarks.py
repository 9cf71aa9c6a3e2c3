"""A partition's low and high watermarks, asked again while the broker is still settling.

Why retry: right after a topic is created (or a broker restarts) the partition's leader is not known to every
client yet, and the broker answers NOT_LEADER_FOR_PARTITION or LEADER_NOT_AVAILABLE for a moment. confluent-kafka
raises those at once instead of waiting out the timeout, which once stopped a condensing stage at start-up.
"""

from __future__ import annotations

import time
from typing import Any

# Errors that say "not yet", not "never": the leader is moving or the topic's metadata has not arrived.
_SETTLING = {"NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PART", "_TIMED_OUT",
             "_TRANSPORT", "_ALL_BROKERS_DOWN", "_UNKNOWN_PARTITION"}


def watermarks(consumer: Any, partition: Any, timeout_s: float = 10.0) -> tuple[int, int]:
    """(low, high) of one partition (a confluent_kafka TopicPartition), retrying settling errors until timeout_s."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout_s
    pause = 0.05
    while True:
        remaining = deadline - time.monotonic()
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=max(remaining, 0.1))
            return int(low), int(high)
        except KafkaException as error:
            kafka_error: Any = error.args[0] if error.args else None
            settling = kafka_error is not None and (kafka_error.retriable() or kafka_error.name() in _SETTLING)
            if not settling or time.monotonic() >= deadline:
                raise
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, 1.0)
