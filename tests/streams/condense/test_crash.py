"""A condensing process killed with SIGKILL mid-batch replays from its last committed flush: after a restart
the counts come out exactly as one uninterrupted run's (nothing lost, nothing counted twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError

from aiops.bench.telemetry import log_lines
from aiops.core.settings import Settings
from aiops.core.topics import create_topics
from streams.condense.logs import LogCondenser
from streams.condense.records import LogTemplateCount, decode_condensed
from tests.kafka_io import produce
from tests.processes import AIOPS

pytestmark = pytest.mark.integration

LINES = 40_000
BAD = [b"{not json", b'{"message": "no service here"}', b'{"service": "x"}']


class CommittedReader:
    """Reads a topic as the worker does: read_committed, from the beginning."""

    def __init__(self, bootstrap: str, topic: str):
        self.records: list[tuple[bytes | None, bytes | None, dict]] = []
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:10]}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                  "isolation.level": "read_committed"})
        self.consumer.subscribe([topic])

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(1000, timeout=0.2):
                if msg.error():
                    assert msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART)
                    continue
                self.records.append((msg.key(), msg.value(), dict(msg.headers() or [])))

    def wait_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if condition():
                return
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def counts(records) -> Counter:
    found: Counter = Counter()
    for _, value, _ in records:
        record = decode_condensed(value)
        assert isinstance(record, LogTemplateCount)
        found[(record.service, record.template_id)] += record.count
    return found


def start(env: dict[str, str], log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([AIOPS, "condense", "logs", "--loglevel", "info"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkill_mid_batch_replays_to_the_same_counts(services, tmp_path):
    prefix = f"t-{uuid.uuid4().hex[:8]}."
    settings = Settings(kafka_bootstrap=services.kafka_bootstrap, topic_prefix=prefix, default_partitions=1)
    create_topics(settings)
    lines = log_lines(LINES)
    values = lines[:1000] + BAD + lines[1000:]
    raw = settings.topic("aiops.logs.raw")
    killed = threading.Event()
    feeder_errors: list[BaseException] = []

    def feed() -> None:
        """Lines arrive at 10k/s, slower than the condenser reads, so the kill finds it mid-batch; the second
        half waits for the kill, so the first process can never have counted every line (on a fast machine it
        once had, before this test could kill it)."""
        try:
            half = len(values) // 2
            for start_at in range(0, len(values), 1000):
                if start_at >= half:
                    killed.wait(120)
                produce(settings.kafka_bootstrap, raw, [(b"k", v) for v in values[start_at:start_at + 1000]])
                time.sleep(0.1)
        except BaseException as error:  # surfaced by the main thread
            feeder_errors.append(error)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()

    # What one uninterrupted run counts: the same core, in this process, over the same lines.
    reference = LogCondenser(settings)
    for value in lines:
        reference.add("json", value)
    expected = counts([(k, v, {}) for k, v in reference.drain()])
    assert sum(expected.values()) == LINES

    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": services.kafka_bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
           "AIOPS_DEFAULT_PARTITIONS": "1", "AIOPS_CONDENSE_INSTANCE_ID": "crash-test",
           "AIOPS_CONDENSE_MAX_BATCH": "1500", "AIOPS_CONDENSE_FLUSH_S": "0.2",
           "AIOPS_CANONICAL_LINES": "off"}  # the line-rate mode: the condenser reads the raw lines
    out = CommittedReader(services.kafka_bootstrap, settings.topic("aiops.logs.condensed"))
    dead = CommittedReader(services.kafka_bootstrap, settings.topic("aiops.logs.raw.dlq"))
    log_path = tmp_path / "condense.log"

    first = start(env, log_path)
    try:
        out.wait_until(lambda: sum(counts(out.records).values()) >= LINES // 5, 90, "a fifth of the lines counted")
        os.killpg(first.pid, signal.SIGKILL)  # mid-batch: it flushes every 1500 lines and was busy
        first.wait(timeout=30)
        out.poll(1.0)  # whatever it committed before dying
        committed_before = sum(counts(out.records).values())
        assert committed_before < LINES, "the kill came too late to test a replay"
    finally:
        killed.set()
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = start(env, log_path)
    try:
        out.wait_until(lambda: sum(counts(out.records).values()) >= LINES, 120, "every line counted after restart")
        dead.wait_until(lambda: len(dead.records) >= len(BAD), 30, "the bad lines dead-lettered")
        out.poll(2.0)  # anything counted twice would show up now
        dead.poll(0.5)
    finally:
        feeder.join(timeout=60)
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)

    assert not feeder_errors, feeder_errors
    assert counts(out.records) == expected, log_path.read_text()[-3000:]
    reasons = sorted(headers["aiops.error.message"].decode() for _, _, headers in dead.records)
    assert len(reasons) == len(BAD)
    assert any("invalid JSON" in r for r in reasons) and any("no service" in r for r in reasons)
    assert any("field 'message' missing" in r for r in reasons)
