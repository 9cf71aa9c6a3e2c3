"""Where an alert's time goes on its way to a proposal: the broker timestamps of the records it became.

Every stage produces a record that names the alert (its fingerprint) or its incident (the id), and the broker
stamps each record with its create time, so reading the topics back after a run gives, per alert, the time
from one stage's record to the next one's: webhook → aiops.alerts.raw (the bridge), → aiops.alerts
(normalize), → aiops.signals (forward), → aiops.incidents (correlate: the first snapshot), → aiops.proposals
(triage, with its retrieval from memory). Matching by the id's bytes works for JSON and Avro values alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from aiops.bench.stats import percentile
from aiops.core.settings import Settings
from aiops.core.topics import ALERTS, INCIDENTS, PROPOSALS, RAW_ALERTS, SIGNALS
from aiops.core.watermarks import watermarks

# (hop name, topic the hop ends on, whether the record names the alert's fingerprint or its incident id)
HOPS = [("bridge", RAW_ALERTS, "fingerprint"), ("normalize", ALERTS, "fingerprint"),
        ("forward", SIGNALS, "fingerprint"), ("correlate", INCIDENTS, "incident"),
        ("triage", PROPOSALS, "incident")]


@dataclass(frozen=True)
class Sent:
    fingerprint: str
    incident_id: str
    posted_ms: float  # wall clock, just before the webhook was posted


def _timestamps(settings: Settings, topic: str, needles: set[str], timeout_s: float = 10.0) -> dict[str, float]:
    """The earliest create time (ms) of a record naming each needle, reading the topic from start to end."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-hops",
                         "enable.auto.commit": False})
    found: dict[str, float] = {}
    try:
        name = settings.topic(topic)
        partitions = consumer.list_topics(name, timeout=timeout_s).topics[name].partitions
        ends = {p: watermarks(consumer, TopicPartition(name, p), timeout_s)[1] for p in partitions}
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
        remaining = {p for p, end in ends.items() if end > 0}
        while remaining:
            messages = consumer.consume(500, timeout=timeout_s)
            if not messages:
                break
            for message in messages:
                if message.error() is not None:
                    continue
                if (message.offset() or 0) >= ends[message.partition()] - 1:
                    remaining.discard(message.partition())
                value = message.value() or b""
                stamp = float(message.timestamp()[1])
                for needle in needles:
                    if needle.encode() in value and stamp < found.get(needle, float("inf")):
                        found[needle] = stamp
    finally:
        consumer.close()
    return found


def breakdown(settings: Settings, sent: list[Sent]) -> dict[str, dict[str, float]]:
    """Per hop, p50 and p99 (ms) over the alerts that reached a proposal."""
    stamps = {topic: _timestamps(settings, topic, {s.fingerprint if by == "fingerprint" else s.incident_id
                                                   for s in sent})
              for _, topic, by in HOPS}
    hops: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    for s in sent:
        previous = s.posted_ms
        times = [stamps[topic].get(s.fingerprint if by == "fingerprint" else s.incident_id) for _, topic, by in HOPS]
        if any(t is None for t in times):
            continue
        for (name, _, _), at in zip(HOPS, times, strict=True):
            hops[name].append(max(0.0, float(at or 0.0) - previous))
            previous = float(at or 0.0)
    return {name: {"p50_ms": percentile(values, 0.5), "p99_ms": percentile(values, 0.99)}
            for name, values in hops.items() if values}

