"""`aiops bench logs` / `aiops bench spans`: a condensing stage against a consume-only loop, same records,
same run.

Steps: produce the input to a fresh, prefixed topic (one partition); read it back with a bare confluent-kafka
loop that only consumes (batches of 10k, read_committed, like the stage): the baseline; then run the stage
in this process on the same records, from its first input message to the commit of the flush that covers the
last one (start-up and the group join excluded in both). The ratio says what decoding, mining or profiling,
counting and the transactional writes cost relative to only reading.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError

from aiops.bench.errors import BenchError
from aiops.bench.ingest import produce
from aiops.core.settings import Settings
from aiops.core.topics import create_topics, delete_prefixed_topics


@dataclass
class CondenseResult:
    stage: str
    inputs: int  # lines, or spans
    messages: int  # Kafka messages (a line each, or a request of many spans)
    baseline_per_s: float  # input units/s of the consume-only loop
    condensed_per_s: float  # input units/s of the stage
    records_out: int
    dead_letters: int

    @property
    def ratio(self) -> float:
        return self.condensed_per_s / self.baseline_per_s if self.baseline_per_s else 0.0

    def as_dict(self) -> dict:
        unit = "lines_per_s" if self.stage == "logs" else "spans_per_s"
        shown = {**asdict(self), unit: self.condensed_per_s, "ratio": round(self.ratio, 4),
                 "inputs_per_record": round(self.inputs / self.records_out, 1) if self.records_out else None}
        shown.pop("condensed_per_s")
        return shown


def bench_settings(settings: Settings, **extra: Any) -> Settings:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    return Settings(**{**settings.model_dump(exclude={"topic_prefix", "default_partitions", *extra}),
                       "topic_prefix": prefix, "default_partitions": 1, **extra})


def consume_only(settings: Settings, topic: str, count: int, timeout_s: float) -> float:
    """Seconds from the first to the last of `count` messages, only reading them."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "fetch.max.bytes": 52_428_800,
                         "max.partition.fetch.bytes": 10_485_760, "queued.max.messages.kbytes": 262_144})
    consumer.subscribe([topic])
    seen, first = 0, None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise BenchError(f"only {seen} of {count} records arrived on {topic} within {timeout_s:.0f}s")
            for message in consumer.consume(10_000, timeout=0.1):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise BenchError(f"consumer error on {topic}: {error}")
                if first is None:
                    first = time.perf_counter()
                seen += 1
    finally:
        consumer.close()
    return time.perf_counter() - (first or time.perf_counter())


def run(settings: Settings, stage: str, values: list[bytes], inputs: int, timeout_s: float = 600.0) -> CondenseResult:
    bench = bench_settings(settings, canonical_lines="off")  # the line-rate mode: condensers read the raw inputs
    create_topics(bench)
    try:
        return _measure(bench, stage, values, inputs, timeout_s)
    finally:
        delete_prefixed_topics(bench.kafka_bootstrap, bench.topic_prefix)


def _measure(bench: Settings, stage: str, values: list[bytes], inputs: int, timeout_s: float) -> CondenseResult:
    from streams.condense.stages import build_loop

    source = bench.topic("aiops.logs.raw" if stage == "logs" else "otlp_spans")
    produce(bench, source, values)
    baseline_s = consume_only(bench, source, len(values), timeout_s)

    loop = build_loop(stage, bench)
    deadline = time.monotonic() + timeout_s

    def done(taken: int) -> bool:
        if time.monotonic() > deadline:
            raise BenchError(f"the {stage} stage took {taken} of {len(values)} messages within {timeout_s:.0f}s")
        return taken >= len(values)

    loop.run(until=done)
    stats = loop.stats
    stage_s = (stats.committed_at or 0.0) - (stats.first_message_at or 0.0)
    per_unit = inputs / len(values)
    return CondenseResult(
        stage=stage, inputs=inputs, messages=len(values),
        baseline_per_s=round(len(values) * per_unit / baseline_s, 1) if baseline_s > 0 else 0.0,
        condensed_per_s=round(inputs / stage_s, 1) if stage_s > 0 else 0.0,
        records_out=stats.records, dead_letters=stats.dead_letters)
