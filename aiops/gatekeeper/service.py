"""The gatekeeper process: the Kafka plumbing around the step (aiops/gatekeeper/step.py).

It checks the topics and their partitions, consumes proposals and approvals in one consumer group (a range
assignor, so one instance owns the same partition number of both), takes each new partition's transactional
producer (fencing any older holder, writers.py) and THEN reads that partition of the ledger back
(read_committed), before handling any record of a new assignment. It hands each record to the step inside the
partition's transaction, dead-letters what the step refuses, commits the transaction, then the offsets. A
write the broker does not take rolls the partition back to its committed ledger: the records since the last
commit are handled again, and the one that failed is retried (a broker hiccup) or, if it cannot succeed (too
large) or keeps failing, dead-lettered with a truncated copy and the error; the offset moves on either way.
It follows aiops.executions (all partitions) for the per-target execution count. A rebalance, an execution
result and a timer each wait until the step in progress is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from aiops.core import fetch_guard, metrics
from aiops.core.avro import SchemaSet, codec_for
from aiops.core.catalog import ActionCatalog
from aiops.core.deadletter import DeadLetter
from aiops.core.fetch_guard import FetchFailure, fetch_failure
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS, DECISIONS, EXECUTIONS, GATEKEEPER_LEDGER, PROPOSALS
from aiops.gatekeeper.errors import BadRecord, Fenced, ProduceFailed
from aiops.gatekeeper.execution_tail import follow_executions
from aiops.gatekeeper.startup import check_topics, partitions, quiet_fenced_futures, until_kafka_answers
from aiops.gatekeeper.step import ProposalGate
from aiops.gatekeeper.writers import PartitionWriters
from connectors.executors import Executor, build_executors

log = logging.getLogger("gatekeeper")

RECORDS = {PROPOSALS: "Proposal", APPROVALS: "Approval", DECISIONS: "Decision", EXECUTIONS: "Execution"}


class Gatekeeper:
    """One gatekeeper instance. `run()` until `stop()`; every dependency can be passed in for tests."""

    def __init__(self, settings: Settings, *, executors: dict[str, Executor] | None = None,
                 catalog: ActionCatalog | None = None, clock: Callable[[], float] = time.time,
                 instance_id: str | None = None):
        self.settings = settings
        self.instance_id = instance_id
        self.group = settings.topic("aiops-gatekeeper")
        self.topics = {name: settings.topic(name) for name in (*RECORDS, GATEKEEPER_LEDGER)}
        schemas = SchemaSet.load(settings.schemas_dir)
        codecs = {record: codec_for(record, self.topics[name], settings, schemas) for name, record in RECORDS.items()}
        self.writers = PartitionWriters(settings.kafka_bootstrap, self.group, settings.max_record_bytes,
                                        settings.dead_letter_copy_bytes)
        self.gate = ProposalGate(settings, catalog or ActionCatalog.for_settings(settings),
                                 executors or build_executors(settings), codecs, self, clock)
        self._stop = asyncio.Event()
        self._restore_needed = True
        self._step = asyncio.Lock()
        self._owned: set[int] = set()
        self._fenced: set[int] = set()  # partitions lost to another instance until the next rebalance
        self._consumer: AIOKafkaConsumer | None = None
        self._tail_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        bootstrap = self.settings.kafka_bootstrap
        quiet_fenced_futures(asyncio.get_running_loop())
        fetch_guard.install()  # an unreadable record batch must not block a partition
        try:
            await until_kafka_answers(lambda: check_topics(bootstrap, self.topics), self._stop.is_set)
            await until_kafka_answers(self._start_execution_tail, self._stop.is_set)
            session_ms = int(self.settings.gatekeeper_session_timeout_s * 1000)
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap, group_id=self.group, group_instance_id=self.instance_id,
                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=500,
                isolation_level="read_committed",  # compensating proposals are written in transactions
                max_partition_fetch_bytes=self.settings.max_record_bytes + 65_536,
                partition_assignment_strategy=(RangePartitionAssignor,), session_timeout_ms=session_ms,
                heartbeat_interval_ms=max(1000, session_ms // 10), max_poll_interval_ms=600_000)
            # State is restored from the ledger for each new assignment before any record is handled.
            self._consumer.subscribe([self.topics[PROPOSALS], self.topics[APPROVALS]], listener=_Rebalance(self))
            await until_kafka_answers(self._consumer.start, self._stop.is_set)
            log.info("gatekeeper running (group %s, instance %s)", self.group, self.instance_id)
            await self._loop()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self._tail_task:
            self._tail_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tail_task
        if self._consumer:
            await self._consumer.stop()
        await self.gate.close()  # lets executions in flight finish (up to their timeout)
        for executor in self.gate.executors.values():
            with contextlib.suppress(Exception):
                await executor.close()
        await self.writers.close()

    # --- the consume loop ------------------------------------------------------------------------

    async def _loop(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            wait_ms = 500
            next_due = self.gate.timers.next_due_ms()
            if next_due is not None:
                wait_ms = max(0, min(wait_ms, next_due - self.gate.now_ms()))
            try:
                batch = await self._consumer.getmany(timeout_ms=wait_ms)
            except KafkaError as exc:  # the broker is away: nothing to do but wait for it
                log.warning("cannot fetch records (%s); retrying", exc)
                await asyncio.sleep(1)
                continue
            # One step at a time: a rebalance, a timer and an execution result wait until this step is done.
            async with self._step:
                await self._step_once(batch)

    async def _step_once(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None
        # The assignment is set before the rebalance listener runs and before records are fetched, so
        # checking it here guarantees that no record is handled against state not yet restored.
        assigned = {tp.partition for tp in self._consumer.assignment() if tp.topic == self.topics[PROPOSALS]}
        owned = assigned - self._fenced
        if self._restore_needed or owned != self._owned:
            self._restore_needed = False
            await self.restore(owned)
            if owned:
                self.ready.set()
        by_partition: dict[int, list[Any]] = {}
        for tp in sorted(batch, key=lambda tp: (tp.partition, tp.topic != self.topics[PROPOSALS])):
            by_partition.setdefault(tp.partition, []).extend(batch[tp])
        offsets = {}
        for partition, records in by_partition.items():
            if partition not in self._owned:
                continue  # revoked or fenced meanwhile: its owner handles these records
            try:
                await self._handle_partition(partition, records)
            except Fenced:
                await self._fenced_out(partition)
                continue
            offsets.update({tp: batch[tp][-1].offset + 1 for tp in batch if tp.partition == partition})
        await self.writers.flush_dead_letters(self._stop.is_set)  # dead letters are in before offsets move on
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, KafkaError) as exc:
                # Someone else owns these partitions now (or the broker is away); the records are replayed, which
                # is harmless: the ledger recognises what was handled.
                log.warning("offset commit failed (%s); the records will be replayed", exc)
        await self._run_due_timers()

    async def _handle_partition(self, partition: int, records: list[Any]) -> None:
        """Handle one partition's records in its transaction; roll back and recover from a failed write."""
        safe = 0  # records before this index are committed
        attempts: dict[int, int] = {}
        errors: dict[int, BaseException] = {}
        lettered: set[int] = set()
        while safe < len(records):
            index = safe
            try:
                while index < len(records):
                    record = records[index]
                    commits = self.writers.commits(partition)
                    if index in errors and index not in lettered:
                        await self._dead_letter(record, errors[index])
                        lettered.add(index)
                    elif index not in lettered:
                        await self._handle(record, lettered, index)
                    index += 1
                    if self.writers.commits(partition) != commits:
                        safe = index  # an execution started: everything so far was committed first
                await self.writers.commit(partition)
                return
            except Exception as failure:
                if isinstance(failure, Fenced):
                    raise
                # A failed write, or a bug met by this one record: either way it must not stop the process.
                exc = failure if isinstance(failure, ProduceFailed) else ProduceFailed(failure, permanent=True)
                if not isinstance(failure, ProduceFailed):
                    log.exception("handling the record at %s failed", _where(records, index))
                metrics.PRODUCE_FAILURES.labels(self.topics[GATEKEEPER_LEDGER], type(exc.error).__name__).inc()
                await self.writers.abort(partition)
                await self._reload(partition)
                attempts[index] = attempts.get(index, 0) + 1
                if exc.permanent or attempts[index] > self.settings.gatekeeper_produce_retries:
                    log.error("writes for the record at %s failed (%s): dead-lettering it", _where(records, index),
                              exc)
                    errors[index] = exc
                else:
                    delay = min(0.5 * 2 ** attempts[index], 30.0)
                    log.warning("writes for the record at %s failed (%s); rolled back, retry %d in %.1fs",
                                _where(records, index), exc, attempts[index], delay)
                    await asyncio.sleep(delay)

    async def _handle(self, record: Any, lettered: set[int], index: int) -> None:
        metrics.RECORDS_IN.labels(record.topic).inc()
        unreadable = fetch_failure(record.headers)
        if unreadable:  # a batch the fetcher could not read (fetch_guard): its marker is dead-lettered
            await self._dead_letter(record, FetchFailure(unreadable))
            lettered.add(index)
            return
        try:
            if record.topic == self.topics[PROPOSALS]:
                await self.gate.on_proposal(record)
            else:
                await self.gate.on_approval(record)
        except BadRecord as bad:
            await self._dead_letter(record, bad.error)
            lettered.add(index)

    async def _fenced_out(self, partition: int) -> None:
        """Another instance took this partition: forget it, write nothing more for it until the next rebalance."""
        log.warning("partition %d was taken over by another gatekeeper instance: giving it up", partition)
        metrics.FENCED.inc()
        self._fenced.add(partition)
        self._owned.discard(partition)
        await self.writers.release(partition)
        self.gate.reset({partition})

    async def _run_due_timers(self) -> None:
        while not self._stop.is_set() and (due := self.gate.pop_due_timer()) is not None:
            partition, timer = due
            if partition in self._owned:
                await self._in_transaction(partition, functools.partial(self.gate.run_timer, timer))

    # --- the step's outputs (ProposalGate's Outputs) ---------------------------------------------

    async def send(self, owner: int, name: str, key: str, value: bytes | None, partition: int | None = None) -> None:
        await self.writers.send(owner, self.topics[name], key.encode(), value, partition)

    async def commit(self, owner: int) -> None:
        await self.writers.commit(owner)

    async def after_step(self, owner: int, work: Callable[[], Any]) -> None:
        """For work outside the step (an execution's result): after the step in progress, in a transaction."""
        async with self._step:
            if owner in self._owned:
                await self._in_transaction(owner, work)

    async def _in_transaction(self, owner: int, work: Callable[[], Any]) -> None:
        try:
            await work()
            await self.writers.commit(owner)
        except Fenced:
            await self._fenced_out(owner)
        except Exception as exc:  # a failed write (ProduceFailed), or a bug: roll back rather than stop
            # What was not committed never happened: the ledger (and the timers it restores) says what is owed.
            error = exc.error if isinstance(exc, ProduceFailed) else exc
            metrics.PRODUCE_FAILURES.labels(self.topics[GATEKEEPER_LEDGER], type(error).__name__).inc()
            log.warning("work for partition %d failed (%s: %s); rolled back to its ledger", owner,
                        type(error).__name__, error, exc_info=not isinstance(exc, ProduceFailed))
            await self.writers.abort(owner)
            await self._reload(owner)

    async def _dead_letter(self, record: Any, error: BaseException) -> None:
        await self.writers.dead_letter(DeadLetter.of(record, error))

    # --- state restore ---------------------------------------------------------------------------

    async def restore(self, partitions: set[int]) -> None:
        """Take these partitions' producers (fencing older holders), then read their ledger back."""
        self.gate.reset()
        self._owned = set(partitions)
        await self.writers.own(partitions)
        await self._read_ledger(partitions)
        self.gate.restored()
        log.info("restored %d proposal(s) from %s partitions %s", len(self.gate.states),
                 self.topics[GATEKEEPER_LEDGER], sorted(partitions))

    async def _reload(self, partition: int) -> None:
        """Roll one partition's state back to its committed ledger (after an aborted transaction)."""
        self.gate.reset({partition})
        delay = 0.5
        while True:
            try:
                await self._read_ledger({partition})
                break
            except KafkaError as exc:  # the broker is away: the state cannot be trusted until it is read again
                if self._stop.is_set():
                    raise
                log.warning("cannot read the ledger of partition %d (%s); retrying in %.1fs", partition, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self.gate.restored({partition})

    async def _read_ledger(self, partitions: set[int]) -> None:
        if not partitions:
            return
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest", isolation_level="read_committed",
                                  max_partition_fetch_bytes=self.settings.max_record_bytes + 65_536)
        await reader.start()
        try:
            tps = [TopicPartition(self.topics[GATEKEEPER_LEDGER], p) for p in sorted(partitions)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            end = await reader.end_offsets(tps)
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                batch = await reader.getmany(*remaining, timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        if fetch_failure(record.headers):  # logged and counted by the guard; not a deletion
                            continue
                        self.gate.restore_entry(record.key, record.value)
                for tp in list(remaining):
                    if await reader.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()

    # --- the execution tail ----------------------------------------------------------------------

    async def _start_execution_tail(self) -> None:
        topic = self.topics[EXECUTIONS]
        numbers = await partitions(self.settings.kafka_bootstrap, topic)
        self._tail_task = await follow_executions(self.settings, topic, numbers, self.gate.codecs["Execution"],
                                                  self.gate.recent, self.gate.now_ms())


def _where(records: list[Any], index: int) -> str:
    record = records[min(index, len(records) - 1)]
    return f"{record.topic}[{record.partition}]@{record.offset}"


class _Rebalance(ConsumerRebalanceListener):
    """Rebalances wait for the step in progress (its records handled and committed), then force a restore."""

    def __init__(self, gatekeeper: Gatekeeper):
        self.gatekeeper = gatekeeper

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.gatekeeper._step:
            self.gatekeeper._restore_needed = True

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.gatekeeper._fenced.clear()  # a new generation: what we are assigned now is ours to take
        self.gatekeeper._restore_needed = True
