"""A case through the real pipeline: a fresh topic prefix, a real `aiops worker` process (normalize and correlate),
the replay the way `aiops replay` plays it, and the incident snapshots read back from aiops.incidents.

The replay keeps the recorded timestamps (everything downstream runs on event time) and is paced at `speed`,
with long stretches in which nothing was recorded shortened to `max_gap_s` (sparse metrics minutes before the
case otherwise cost wall time for nothing). The case is done when every topic the worker reads has been read to
its end, the trace stage has had time to close its last buckets, and no incident snapshot came for a while.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiops.core.avro import codec_for
from aiops.core.errors import AiopsError
from aiops.core.lag import GroupLag
from aiops.core.settings import Settings
from aiops.core.topics import (
    ALERTS,
    INCIDENTS,
    INPUTS,
    LOG_EVENTS,
    LOGS,
    LOGS_CONDENSED,
    METRICS,
    OTLP_LOGS,
    OTLP_SPANS,
    RAW_LOGS,
    SIGNALS,
    SPAN_STATS,
    SPANS,
    SPANS_CONDENSED,
    WORKER_GROUP,
    condenser_group,
    create_topics,
    delete_prefixed_topics,
)
from aiops.demo.replay import Recording, replay
from aiops.eval.cases import Case
from aiops.stack.process import stop_group

AIOPS = str(Path(sys.executable).with_name("aiops"))
TICKS_IN_FLIGHT = 10
CONSUMED = (*(spec.name for spec in INPUTS), ALERTS, LOGS, SPANS, METRICS, LOG_EVENTS, SPAN_STATS, SIGNALS)
# At line rate (AIOPS_CANONICAL_LINES=off) the condensers' own consumer groups read the raw log and span inputs
# (streams/condense/stages.py), and the worker reads their transactional output instead.
CONDENSED_INPUTS = {"logs": (RAW_LOGS, OTLP_LOGS, LOGS), "spans": (OTLP_SPANS, SPANS)}
TRANSACTIONAL = (LOGS_CONDENSED, SPANS_CONDENSED)
TRANSACTION_MARKERS = 1  # a consumer that read everything of a transactional topic is one commit marker behind


class PipelineError(AiopsError):
    """The worker could not run a case; the message holds the end of its log."""


@dataclass
class PipelineRun:
    """What one case's run produced."""

    snapshots: list[dict[str, Any]]
    seconds: float
    prefix: str


def compressed(case: Case, max_gap_s: float) -> Recording:
    """The case's recording with every gap between records longer than `max_gap_s` shortened to it (offsets
    only: the payloads keep their times)."""
    records, shift, previous = [], 0.0, 0.0
    for record in case.records:
        gap = record["at"] - previous
        if gap > max_gap_s:
            shift += gap - max_gap_s
        previous = record["at"]
        records.append({**record, "at": record["at"] - shift})
    return Recording(case.case_id, case.start, case.description, records)


class _Lag:
    """How far the worker's consumer groups are behind the end of the topics the case fills."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.groups = self._groups(settings)
        self.lag = GroupLag(settings.kafka_bootstrap)

    @staticmethod
    def _groups(settings: Settings) -> dict[str, tuple[str, ...]]:
        """Consumer group → the topics it reads that the case fills."""
        worker = settings.topic(WORKER_GROUP)
        if settings.canonical_lines == "all":
            return {worker: CONSUMED}
        condensed = {name for names in CONDENSED_INPUTS.values() for name in names}
        groups = {worker: (*(n for n in CONSUMED if n not in condensed), *TRANSACTIONAL)}
        for stage, names in CONDENSED_INPUTS.items():
            groups[settings.topic(condenser_group(stage))] = names
        return groups

    def behind(self) -> int:
        total = 0
        ticks = self.settings.topic(SIGNALS)
        transactional = {self.settings.topic(name) for name in TRANSACTIONAL}
        groups = {group: [self.settings.topic(name) for name in topics] for group, topics in self.groups.items()}
        for lags in self.lag.per_group(groups).values():
            for (topic, _), behind in lags.items():
                # The correlator's clock ticks through aiops.signals every second: a few records there is idle.
                if topic == ticks:
                    behind -= TICKS_IN_FLIGHT
                elif topic in transactional:
                    behind -= TRANSACTION_MARKERS
                total += max(0, behind)
        return total

    def close(self) -> None:
        self.lag.close()


def _read_incidents(settings: Settings, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    from confluent_kafka import Consumer, KafkaError

    codec = codec_for("Incident", settings.topic(INCIDENTS), settings)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"eval-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.subscribe([settings.topic(INCIDENTS)])
    snapshots: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    at_end: set[int] = set()
    partitions: int | None = None
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition() or 0)
                    if partitions is None:
                        partitions = len(consumer.list_topics(settings.topic(INCIDENTS)).topics[
                            settings.topic(INCIDENTS)].partitions)
                    if len(at_end) >= partitions:
                        break
                continue
            if message.value() is not None:
                snapshots.append(codec.decode(message.value()))
    finally:
        consumer.close()
    return snapshots


def run_case(case: Case, base: Settings, log_dir: Path, speed: float = 10.0, max_gap_s: float = 2.0,
             settle_s: float = 15.0, timeout_s: float = 600.0, keep_topics: bool = False,
             say: Callable[[str], None] = lambda text: None) -> PipelineRun:
    """Replay one case through a fresh worker; the incident snapshots it produced."""
    started = time.monotonic()
    prefix = f"eval-{uuid.uuid4().hex[:8]}-{case.case_id[:24]}."
    settings = Settings(**{**base.model_dump(), "topic_prefix": prefix, "default_partitions": 1})
    create_topics(settings)
    env = {**os.environ, "AIOPS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "AIOPS_TOPIC_PREFIX": prefix,
           "AIOPS_DEFAULT_PARTITIONS": "1", "AIOPS_WORKER_METRICS_PORT": "0",
           # The condensers flush on wall time: scaled to the replay speed, a flush holds as much event time as
           # it would live (otherwise each one delivers `speed` times more at once, later in event time).
           "AIOPS_CONDENSE_FLUSH_S": f"{base.condense_flush_s / speed:g}"}
    log_path = log_dir / f"{case.case_id}.worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen([AIOPS, "worker", "--agent", "normalize", "--agent", "correlate",
                                   "--loglevel", "warn"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    lag = _Lag(settings)
    try:
        say(f"{case.case_id}: replaying {len(case.records)} records at {speed:g}x into {prefix}*")
        replay(compressed(case, max_gap_s), settings, speed=speed, keep_times=True)
        quiet_since = None
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise PipelineError(f"the worker exited with {worker.returncode}:\n"
                                    f"{log_path.read_text(errors='replace')[-3000:]}")
            behind = lag.behind()
            if behind == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle_s:
                    break
            else:
                quiet_since = None
            time.sleep(1.0)
        else:
            raise PipelineError(f"{case.case_id}: the worker did not catch up within {timeout_s:.0f}s")
    finally:
        lag.close()
        stop_group(worker)
    snapshots = _read_incidents(settings)
    if not keep_topics:
        delete_prefixed_topics(settings.kafka_bootstrap, prefix)
    return PipelineRun(snapshots, time.monotonic() - started, prefix)
