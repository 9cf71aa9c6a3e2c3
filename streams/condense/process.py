"""The condensing process: a confluent-kafka loop that reads input in batches, condenses it, and writes the
counts, the dead letters, the stage's state and the input offsets in one Kafka transaction per flush.

Why a transaction: a crash (SIGKILL included) between writing counts and committing offsets would otherwise
count the replayed lines twice. Here a flush is all or nothing: on restart, the transactional id aborts what
the dead process left open, the stage restores the state saved with the last committed flush, and the input
replays from the offsets committed with it, so the counts come out the same. Readers of the condensed
topics read with isolation.level=read_committed (the Faust worker does: streams/kafka_transport.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from aiops.core import metrics
from aiops.core.deadletter import VALUE_DROPPED, DeadLetter, RawMessage, dead_letter_topic
from aiops.core.errors import AiopsError
from aiops.core.produce import produce_waiting
from aiops.core.settings import Settings
from aiops.core.watermarks import watermarks
from streams.ingest.verdicts import Rejected

log = logging.getLogger(__name__)

DEAD_LETTER_HEADROOM = 65_536
STATE_READ_TIMEOUT_S = 30.0


class CondenseError(AiopsError):
    """The condensing process cannot go on (Kafka refused a transaction, the state topic is unreadable)."""


class Stage(Protocol):
    """A condensing core: messages in, (key, value) records out at each flush, its state as named blobs."""

    def add(self, kind: str, value: bytes | None) -> list[Rejected]: ...

    def drain(self) -> list[tuple[bytes, bytes]]: ...

    def snapshots(self) -> list[tuple[str, bytes]]: ...

    def restore(self, snapshots: dict[str, bytes]) -> None: ...

    def holding(self) -> bool: ...  # holds input already counted that a later flush writes out (no new input needed)


@dataclass(frozen=True)
class Input:
    topic: str  # full topic name
    kind: str  # what the stage's add() expects: json, otlp, canonical


@dataclass
class FlushStats:
    flushes: int = 0
    messages: int = 0  # input messages committed
    records: int = 0  # condensed records committed
    dead_letters: int = 0
    first_message_at: float | None = None  # perf_counter() when the first input message arrived
    committed_at: float | None = None  # perf_counter() after the latest commit


class CondenseLoop:
    """Runs one stage over its inputs. One instance per process and stage; `run()` until `stop` is set."""

    def __init__(self, settings: Settings, stage: Stage, inputs: Sequence[Input], output_topic: str,
                 state_topic: str | None, group_id: str, transactional_id: str) -> None:
        self.settings = settings
        self.stage = stage
        self.kinds = {i.topic: i.kind for i in inputs}
        self.output_topic = output_topic
        self.state_topic = state_topic
        self.group_id = group_id
        self.stats = FlushStats()
        self._offsets: dict[tuple[str, int], int] = {}  # consumed, not yet committed: next offset to read
        self._dead: list[tuple[str, bytes | None, bytes | None, list[tuple[str, str | bytes | None]]]] = []
        self._pending_messages = 0
        self._in_counts: dict[str, int] = {}
        max_message = max(1_000_000, settings.ingest_max_message_bytes + DEAD_LETTER_HEADROOM)
        self._max_dead_letter = max_message - 4096
        self.consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap, "group.id": group_id,
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "isolation.level": "read_committed",
            "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
            "queued.max.messages.kbytes": 262_144,
        })
        self.producer = Producer({
            "bootstrap.servers": settings.kafka_bootstrap, "transactional.id": transactional_id,
            "linger.ms": 20, "batch.size": 1_000_000, "message.max.bytes": max_message,
            "queue.buffering.max.messages": 1_000_000, "transaction.timeout.ms": 30_000,
        })
        self.producer.init_transactions(30)
        self._flushed_at = time.monotonic()

    # --- rebalances -------------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.stage.restore(self._read_state())
        self._offsets.clear()
        self._dead.clear()
        self._pending_messages = 0
        log.info("assigned %s", sorted(f"{p.topic}[{p.partition}]" for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Everything counted so far belongs to partitions being taken away: write it out with their offsets.
        self.flush()

    def _read_state(self) -> dict[str, bytes]:
        """The latest committed state blob per name, read from the compacted state topic."""
        if self.state_topic is None:
            return {}
        reader = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": f"{self.group_id}.state",
                           "enable.auto.commit": False, "isolation.level": "read_committed"})
        try:
            # A state topic created a moment ago may not have a leader yet: ask again for a few seconds.
            settle_until = time.monotonic() + 10
            while True:
                metadata = reader.list_topics(self.state_topic, timeout=10).topics.get(self.state_topic)
                if metadata is not None and metadata.error is None:
                    break
                if time.monotonic() > settle_until:
                    raise CondenseError(f"state topic {self.state_topic} is not readable: "
                                        f"{getattr(metadata, 'error', 'missing')}")
                time.sleep(0.2)
            ends = {}
            for partition in metadata.partitions:
                low, high = watermarks(reader, TopicPartition(self.state_topic, partition))
                if high > low:
                    ends[partition] = high
            reader.assign([TopicPartition(self.state_topic, p, 0) for p in ends])
            state: dict[str, bytes] = {}
            deadline = time.monotonic() + STATE_READ_TIMEOUT_S
            while ends:
                if time.monotonic() > deadline:
                    raise CondenseError(f"state topic {self.state_topic} not read to its end within "
                                        f"{STATE_READ_TIMEOUT_S:.0f}s")
                for message in reader.consume(10_000, timeout=0.5):
                    key, value = message.key(), message.value()
                    if message.error() is None and key is not None:
                        if value is None:
                            state.pop(key.decode(), None)
                        else:
                            state[key.decode()] = value
                for position in reader.position([TopicPartition(self.state_topic, p) for p in list(ends)]):
                    if position.offset >= ends[position.partition]:
                        ends.pop(position.partition)
            return state
        finally:
            reader.close()

    # --- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, until: Callable[[int], bool] | None = None) -> None:
        """Consume, condense and flush until `stop` is set, or until `until(messages taken so far)` holds (then
        everything taken is flushed first: how a benchmark stops at the end of its input)."""
        stop = stop or threading.Event()
        self.consumer.subscribe(list(self.kinds), on_assign=self._on_assign, on_revoke=self._on_revoke)
        batch = min(self.settings.condense_max_batch, 10_000)
        try:
            while not stop.is_set():
                self._take(self.consumer.consume(batch, timeout=0.1))
                if until is not None and until(self.stats.messages + self._pending_messages):
                    break
                if self._pending_messages >= self.settings.condense_max_batch or \
                        time.monotonic() - self._flushed_at >= self.settings.condense_flush_s:
                    self.flush()
            self.flush()
        finally:
            self.consumer.close()

    def _take(self, messages: list[Any]) -> None:  # confluent_kafka.Message, whose stubs allow None everywhere
        if messages and self.stats.first_message_at is None:
            self.stats.first_message_at = time.perf_counter()
        add, kinds = self.stage.add, self.kinds
        offsets, counts = self._offsets, self._in_counts
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                raise CondenseError(f"consumer error: {error}")
            topic = message.topic()
            try:
                for rejection in add(kinds[topic], message.value()):  # that record alone, the rest counted
                    self._dead_letter(message, rejection.error(), rejection.original)
            except Exception as exc:  # every failure of a message becomes its dead letter; the loop goes on
                self._dead_letter(message, exc)
            offsets[(topic, message.partition())] = message.offset() + 1
            counts[topic] = counts.get(topic, 0) + 1
        self._pending_messages += len(messages)

    def _dead_letter(self, message: Any, exc: BaseException, original: bytes | None = None) -> None:
        if not isinstance(exc, AiopsError | ValueError):
            log.error("unexpected %s on %s[%d]@%d, dead-lettered: %s", type(exc).__name__, message.topic(),
                      message.partition(), message.offset(), exc)
        raw = RawMessage.of_confluent(message)
        letter = DeadLetter(raw.key, original or raw.value, exc, raw.topic, raw.partition, raw.offset)
        headers: list[tuple[str, str | bytes | None]] = list(letter.headers())
        value = letter.value
        if value is not None and len(value) > self._max_dead_letter:
            headers.append((VALUE_DROPPED, f"{len(value)} bytes not copied: over the producer's limit".encode()))
            value = None
        self._dead.append((dead_letter_topic(message.topic()), message.key(), value, headers))
        metrics.DEAD_LETTERS.labels(message.topic(), type(exc).__name__).inc()

    # --- flush: one transaction -------------------------------------------------------------------
    def flush(self) -> None:
        """Write the counts, dead letters and changed state, and commit the input offsets with them."""
        self._flushed_at = time.monotonic()
        if not self._offsets and not self.stage.holding():
            return
        records = self.stage.drain()
        state = self.stage.snapshots() if self.state_topic else []
        try:
            self.producer.begin_transaction()
            for key, value in records:
                produce_waiting(self.producer, self.output_topic, value, key)
            for topic, original_key, original, headers in self._dead:
                produce_waiting(self.producer, topic, original, original_key, headers)
            for name, blob in state:
                produce_waiting(self.producer, self.state_topic or "", blob, name.encode())
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._offsets.items()]
            if offsets:
                self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 30)
            self.producer.commit_transaction(60)
        except KafkaException as exc:
            # The flush's outcome is unknown or aborted: only a restart from the committed offsets and state
            # keeps the counts exact, so stop rather than go on.
            raise CondenseError(f"flush failed, restart to replay from the last commit: {exc}") from exc
        metrics.RECORDS_OUT.labels(self.output_topic).inc(len(records))
        for topic, count in self._in_counts.items():
            metrics.RECORDS_IN.labels(topic).inc(count)
        self.stats.flushes += 1
        self.stats.committed_at = time.perf_counter()
        self.stats.messages += self._pending_messages
        self.stats.records += len(records)
        self.stats.dead_letters += len(self._dead)
        self._offsets = {}
        self._dead = []
        self._in_counts = {}
        self._pending_messages = 0
