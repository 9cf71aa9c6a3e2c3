"""The gatekeeper's writes: one transactional producer per owned partition (fencing), and dead letters.

Fencing. Everything the gatekeeper writes for proposals of partition p (Decisions, ledger entries, Execution
records) goes through the transactional producer with `transactional.id` `<group>-p<p>`, stable across
restarts and instances. When an instance takes partition p over, it starts that producer (`init_transactions`)
BEFORE it reads p's ledger back: the broker then bumps the id's epoch, aborts whatever transaction an older
holder left open, and refuses every later write or commit of that older holder (`ProducerFenced`). The ledger
is read back `read_committed`. So a paused instance that wakes up after losing p cannot commit a "started"
entry, and because an execution only starts after its "started" entry was committed, it cannot execute
either: whatever it committed before the takeover, the new owner has read; whatever it tries after, fails.

Bounds. Every record is checked against `max_record_bytes` before it is sent (`RecordTooLarge`), so a record
can never poison a transaction with a size error; broker failures surface as `ProduceFailed` (transient or
not) for the caller to roll back and retry, or dead-letter the input. Dead letters go through a plain
producer, outside the transactions, and are retried until the broker takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
)

from aiops.core import metrics
from aiops.core.deadletter import DeadLetter, dead_letter_topic, send_dead_letter
from aiops.core.errors import RecordTooLarge
from aiops.gatekeeper.errors import Fenced, ProduceFailed

log = logging.getLogger("gatekeeper.writers")

# Errors that the same record will hit again however often it is sent.
PERMANENT = (RecordTooLarge, MessageSizeTooLargeError, RecordListTooLargeError, CorruptRecordException)
HEADER_OVERHEAD = 512  # record framing, timestamps, header names: a safe margin under the limit


def record_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> int:
    return (len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers or [])
            + HEADER_OVERHEAD)


def _forget(futures: list[asyncio.Future[Any]]) -> None:
    """Futures of an abandoned transaction: their errors are expected and read here, not logged as unread."""
    for future in futures:
        future.add_done_callback(lambda f: f.cancelled() or f.exception())


def _raise_if_fatal(producer: AIOKafkaProducer) -> None:
    """Raise the error that put the producer in aiokafka's FATAL_ERROR state (fenced, most often).

    Once a send fails with ProducerFenced, aiokafka answers every later begin/commit/abort with a bare
    AssertionError ("Invalid state transition FATAL_ERROR -> ..."), which would hide the fencing and crash the
    gatekeeper; the original error is kept on the transaction manager's waiter (aiokafka 0.14 internals)."""
    manager = getattr(producer, "_txn_manager", None)
    if manager is None or not manager.is_fatal_error():
        return
    waiter = manager._transaction_waiter
    error = waiter.exception() if waiter.done() and not waiter.cancelled() else None
    raise error if isinstance(error, BaseException) else IllegalStateError("the transactional producer failed")


def _failure(exc: BaseException) -> ProduceFailed:
    return ProduceFailed(exc, permanent=isinstance(exc, PERMANENT))


class _Writer:
    """One partition's transactional producer and its open transaction."""

    def __init__(self, producer: AIOKafkaProducer):
        self.producer = producer
        self.in_transaction = False
        self.pending: list[asyncio.Future[Any]] = []
        self.commits = 0


class PartitionWriters:
    """The transactional producers of the partitions this instance owns, and the dead-letter producer."""

    def __init__(self, bootstrap: str, group: str, max_record_bytes: int, dead_letter_copy_bytes: int,
                 producer_factory: Callable[..., AIOKafkaProducer] = AIOKafkaProducer):
        self.bootstrap = bootstrap
        self.group = group
        self.max_record_bytes = max_record_bytes
        self.dead_letter_copy_bytes = dead_letter_copy_bytes
        self.producer_factory = producer_factory
        self._writers: dict[int, _Writer] = {}
        self._dead_letters: AIOKafkaProducer | None = None
        self._letters: list[tuple[DeadLetter, Any]] = []  # queued dead letters: (letter, future or error)

    def transactional_id(self, partition: int) -> str:
        return f"{self.group}-p{partition}"

    @property
    def partitions(self) -> set[int]:
        return set(self._writers)

    async def own(self, partitions: set[int]) -> None:
        """Hold exactly these partitions' producers. Starting one fences every older holder of its id."""
        for partition in sorted(set(self._writers) - partitions):
            await self.release(partition)
        for partition in sorted(partitions - set(self._writers)):
            producer = self.producer_factory(
                bootstrap_servers=self.bootstrap, transactional_id=self.transactional_id(partition), acks="all",
                enable_idempotence=True, linger_ms=0, max_request_size=self.max_record_bytes + HEADER_OVERHEAD)
            await producer.start()  # init_transactions: the epoch bump that fences the previous holder
            self._writers[partition] = _Writer(producer)
            log.info("took partition %d: transactional id %s", partition, self.transactional_id(partition))

    async def release(self, partition: int) -> None:
        """Stop a partition's producer (its open transaction is aborted, by us or by the next holder)."""
        writer = self._writers.pop(partition, None)
        if writer is not None:
            _forget(writer.pending)
            with contextlib.suppress(Exception):
                if writer.in_transaction:
                    await writer.producer.abort_transaction()
            with contextlib.suppress(Exception):
                await writer.producer.stop()

    def commits(self, partition: int) -> int:
        """How many transactions of this partition were committed (a caller sees whether one happened)."""
        writer = self._writers.get(partition)
        return writer.commits if writer is not None else -1

    def _writer(self, partition: int) -> _Writer:
        writer = self._writers.get(partition)
        if writer is None:
            raise Fenced(partition)
        return writer

    async def send(self, owner: int, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None = None) -> None:
        """Add one record to partition `owner`'s transaction (begun on the first write)."""
        size = record_size(key, value)
        if size > self.max_record_bytes:
            raise ProduceFailed(RecordTooLarge(f"a {size}-byte record for {topic} is larger than the limit of "
                                               f"{self.max_record_bytes} bytes"), permanent=True)
        writer = self._writer(owner)
        try:
            _raise_if_fatal(writer.producer)
            if not writer.in_transaction:
                await writer.producer.begin_transaction()
                writer.in_transaction = True
            writer.pending.append(await writer.producer.send(topic, value, key=key, partition=partition))
        except (ProducerFenced, InvalidProducerEpoch):
            raise Fenced(owner) from None
        except (KafkaError, IllegalStateError) as exc:
            raise _failure(exc) from exc
        metrics.RECORDS_OUT.labels(topic).inc()

    async def commit(self, owner: int) -> None:
        """Commit partition `owner`'s transaction: every write in it is then visible and durable, or none is."""
        writer = self._writer(owner)
        if not writer.in_transaction:
            return
        pending, writer.pending = writer.pending, []
        try:
            for number, future in enumerate(pending):
                try:
                    await future
                except BaseException:
                    _forget(pending[number + 1:])
                    raise
            _raise_if_fatal(writer.producer)
            await writer.producer.commit_transaction()
            writer.in_transaction = False
            writer.commits += 1
        except (ProducerFenced, InvalidProducerEpoch):
            raise Fenced(owner) from None
        except (KafkaError, IllegalStateError) as exc:
            raise _failure(exc) from exc

    async def abort(self, owner: int) -> None:
        """Abort partition `owner`'s open transaction (nothing written in it becomes visible)."""
        writer = self._writers.get(owner)
        if writer is None or not writer.in_transaction:
            return
        _forget(writer.pending)
        writer.pending = []
        try:
            _raise_if_fatal(writer.producer)
            await writer.producer.abort_transaction()
            writer.in_transaction = False
        except (ProducerFenced, InvalidProducerEpoch):
            raise Fenced(owner) from None
        except (KafkaError, IllegalStateError) as exc:
            # A producer that cannot even abort is replaced: the next start aborts the transaction for us.
            log.warning("cannot abort the transaction of partition %d (%s); restarting its producer", owner, exc)
            await self.release(owner)
            await self.own({*self._writers, owner})

    async def _dead_letter_producer(self) -> AIOKafkaProducer:
        if self._dead_letters is None:
            self._dead_letters = self.producer_factory(
                bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                max_request_size=self.max_record_bytes + HEADER_OVERHEAD)
            await self._dead_letters.start()
        return self._dead_letters

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Queue a dead letter (truncated copy, whole error in headers); `flush_dead_letters` confirms them."""
        producer = await self._dead_letter_producer()

        async def enqueue(letter: DeadLetter, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
            future = await producer.send(dead_letter_topic(letter.topic), value, key=letter.key, headers=headers)
            self._letters.append((letter, future))

        try:
            await send_dead_letter(letter, enqueue, self.dead_letter_copy_bytes)
        except Exception as exc:  # not even queued (the broker is away): sent again at the flush
            self._letters.append((letter, exc))

    async def flush_dead_letters(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Wait until every queued dead letter was taken by the broker, sending failed ones again until it is."""
        letters, self._letters = self._letters, []
        for letter, future in letters:
            try:
                if isinstance(future, BaseException):
                    raise future
                await future
                continue
            except Exception as exc:
                metrics.PRODUCE_FAILURES.labels(dead_letter_topic(letter.topic), type(exc).__name__).inc()
                log.warning("dead letter for %s not taken (%s); sending it again", letter.where, exc)
            await self._resend(letter, stopping)

    async def _resend(self, letter: DeadLetter, stopping: Callable[[], bool]) -> None:
        async def send(letter: DeadLetter, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
            producer = await self._dead_letter_producer()
            await producer.send_and_wait(dead_letter_topic(letter.topic), value, key=letter.key, headers=headers)

        delay = 0.5
        while True:
            try:
                await send_dead_letter(letter, send, self.dead_letter_copy_bytes)
                return
            except Exception as exc:  # the broker is away: without it nothing moves on anyway
                metrics.PRODUCE_FAILURES.labels(dead_letter_topic(letter.topic), type(exc).__name__).inc()
                if stopping():
                    raise
                log.warning("dead letter for %s not taken (%s); retrying in %.1fs", letter.where, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def close(self) -> None:
        for partition in list(self._writers):
            await self.release(partition)
        if self._dead_letters is not None:
            with contextlib.suppress(Exception):
                await self._dead_letters.stop()
            self._dead_letters = None
