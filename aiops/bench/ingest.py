"""`aiops bench ingest`: how fast the normalize worker turns JSON log lines into canonical Avro records,
against the raw client's consume rate of the same records on the same broker.

Steps: produce N Vector-style JSON log lines to a fresh, prefixed aiops.logs.raw; read them back with a
bare confluent-kafka consumer (the baseline: the fastest the broker hands them to a Python client); then
start `aiops worker --agent normalize` on the prefix and time its output on aiops.logs from the first
canonical record to the N-th (steady state, start-up excluded). The ratio says what decoding, validation,
Avro encoding and producing cost relative to only reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer

from aiops.bench.errors import BenchError
from aiops.core.produce import produce_waiting
from aiops.core.settings import Settings
from aiops.core.topics import LOGS, RAW_LOGS, create_topics, delete_prefixed_topics

AIOPS = str(Path(sys.executable).with_name("aiops"))


@dataclass
class IngestResult:
    records: int
    produce_per_s: float
    baseline_consume_per_s: float
    normalize_per_s: float
    worker_startup_s: float

    @property
    def ratio(self) -> float:
        """Normalize throughput as a fraction of the raw consume baseline."""
        return self.normalize_per_s / self.baseline_consume_per_s if self.baseline_consume_per_s else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 6)}


def log_lines(count: int) -> list[bytes]:
    base = datetime.now(UTC) - timedelta(minutes=5)
    services = ["orders-api", "checkout-api", "web-frontend", "search-api", "payments-api"]
    lines = []
    for i in range(count):
        lines.append(json.dumps({
            "timestamp": (base + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z"),
            "message": f"GET /orders/{i} 200 in {i % 90}ms", "level": "info" if i % 10 else "warning",
            "service": services[i % len(services)], "trace_id": f"{i:032x}", "host": f"pod-{i % 7}",
        }, separators=(",", ":")).encode())
    return lines


def produce(settings: Settings, topic: str, values: list[bytes]) -> float:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                         "enable.idempotence": True, "queue.buffering.max.messages": 1_000_000})
    started = time.perf_counter()
    for value in values:
        produce_waiting(producer, topic, value)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError(f"not every record was delivered to {topic}")
    return len(values) / (time.perf_counter() - started)


def timed_consume(settings: Settings, topic: str, count: int, timeout_s: float,
                  started_at: float | None = None) -> tuple[float, float, float]:
    """Read `count` records from the start of `topic`; (first record time, last record time, start time)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.max.bytes": 52_428_800})
    consumer.subscribe([topic])
    seen = 0
    first = last = 0.0
    start = started_at if started_at is not None else time.perf_counter()
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise BenchError(f"only {seen} of {count} records arrived on {topic} within {timeout_s:.0f}s")
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if (error := msg.error()) is not None:
                    if error.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                        continue
                    raise BenchError(f"consumer error on {topic}: {error}")
                if seen == 0:
                    first = time.perf_counter()
                seen += 1
                last = time.perf_counter()
    finally:
        consumer.close()
    return first, last, start


def run(settings: Settings, records: int, timeout_s: float = 300.0, log_dir: Path | None = None) -> IngestResult:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    bench = Settings(**{**settings.model_dump(exclude={"topic_prefix", "default_partitions"}),
                        "topic_prefix": prefix, "default_partitions": 1})
    create_topics(bench)
    try:
        return _measure(bench, records, timeout_s, log_dir)
    finally:
        delete_prefixed_topics(bench.kafka_bootstrap, prefix)


def _measure(bench: Settings, records: int, timeout_s: float, log_dir: Path | None) -> IngestResult:
    prefix = bench.topic_prefix
    raw, canonical = bench.topic(RAW_LOGS), bench.topic(LOGS)
    produce_rate = produce(bench, raw, log_lines(records))

    first, last, _ = timed_consume(bench, raw, records, timeout_s)
    baseline = (records - 1) / (last - first) if last > first else float(records)

    env = {**os.environ, "AIOPS_TOPIC_PREFIX": prefix, "AIOPS_DEFAULT_PARTITIONS": "1",
           "AIOPS_KAFKA_BOOTSTRAP": bench.kafka_bootstrap, "AIOPS_WORKER_METRICS_PORT": "0",
           "AIOPS_CANONICAL_LINES": "all"}  # the per-line normalize agents, which this measures
    log_path = (log_dir or bench.state_dir) / f"bench-{prefix.rstrip('.')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        worker = subprocess.Popen([AIOPS, "worker", "--agent", "normalize", "--loglevel", "warn"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        first, last, start = timed_consume(bench, canonical, records, timeout_s, started_at=started)
    except BenchError as exc:
        raise BenchError(f"{exc}; worker log: {log_path}") from None
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    normalize = (records - 1) / (last - first) if last > first else float(records)
    return IngestResult(records, round(produce_rate, 1), round(baseline, 1), round(normalize, 1),
                        round(first - start, 2))
