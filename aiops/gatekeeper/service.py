"""The gatekeeper process: the Kafka plumbing around the step (aiops/gatekeeper/step.py).

It checks the topics and their partitions, consumes proposals and approvals in one consumer group (a range
assignor, so one instance owns the same partition number of both), reads its partitions of the ledger back
before handling any record of a new assignment, hands each record to the step, dead-letters what the step
refuses, commits the offsets after the batch, and follows aiops.executions (all partitions) for the
per-target execution count. A rebalance waits until the step in progress is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError

from aiops.core import fetch_guard, metrics
from aiops.core.avro import SchemaSet, codec_for
from aiops.core.catalog import ActionCatalog
from aiops.core.deadletter import (
    DeadLetter,
    Headers,
    dead_letter_topic,
    decode_or_letter,
    send_dead_letter,
    skip_undecodable,
)
from aiops.core.errors import SerializationError
from aiops.core.fetch_guard import FetchFailure, fetch_failure
from aiops.core.settings import Settings
from aiops.core.topics import APPROVALS, DECISIONS, EXECUTIONS, GATEKEEPER_LEDGER, PROPOSALS
from aiops.gatekeeper.errors import BadRecord, GatekeeperError
from aiops.gatekeeper.recent import HOUR_MS
from aiops.gatekeeper.step import ProposalGate
from aiops.gatekeeper.times import to_ms
from connectors.executors import Executor, build_executors
from streams.output_records import Execution, ExecutionStatus

log = logging.getLogger("gatekeeper")

RECORDS = {PROPOSALS: "Proposal", APPROVALS: "Approval", DECISIONS: "Decision", EXECUTIONS: "Execution"}


class Gatekeeper:
    """One gatekeeper instance. `run()` until `stop()`; every dependency can be passed in for tests."""

    def __init__(self, settings: Settings, *, executors: dict[str, Executor] | None = None,
                 catalog: ActionCatalog | None = None, clock: Callable[[], float] = time.time,
                 instance_id: str | None = None):
        self.settings = settings
        self.instance_id = instance_id
        self.topics = {name: settings.topic(name) for name in (*RECORDS, GATEKEEPER_LEDGER)}
        schemas = SchemaSet.load(settings.schemas_dir)
        codecs = {record: codec_for(record, self.topics[name], settings, schemas) for name, record in RECORDS.items()}
        self.gate = ProposalGate(settings, catalog or ActionCatalog.for_settings(settings),
                                 executors or build_executors(settings), codecs, self._send, clock)
        self._stop = asyncio.Event()
        self._restore_needed = True
        self._step = asyncio.Lock()
        self._owned: set[int] = set()
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tail_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        bootstrap = self.settings.kafka_bootstrap
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                          linger_ms=0)
        await self._producer.start()
        fetch_guard.install()  # an unreadable record batch must not block a partition
        try:
            await self._check_topics()
            await self._start_execution_tail()
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=self.settings.topic("aiops-gatekeeper"), group_instance_id=self.instance_id,
                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=50,
                partition_assignment_strategy=(RangePartitionAssignor,), session_timeout_ms=30_000,
                heartbeat_interval_ms=3_000, max_poll_interval_ms=600_000)
            # State is restored from the ledger for each new assignment before any record is handled.
            self._consumer.subscribe([self.topics[PROPOSALS], self.topics[APPROVALS]], listener=_Rebalance(self))
            await self._consumer.start()
            log.info("gatekeeper running (group %s, instance %s)", self.settings.topic("aiops-gatekeeper"),
                     self.instance_id)
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
        for executor in self.gate.executors.values():
            with contextlib.suppress(Exception):
                await executor.close()
        await self.gate.close()
        if self._producer:
            await self._producer.stop()

    async def _check_topics(self) -> None:
        counts = {}
        deadline = time.monotonic() + 15
        for name in (PROPOSALS, APPROVALS, GATEKEEPER_LEDGER, DECISIONS, EXECUTIONS):
            parts = await _partitions(self.settings.kafka_bootstrap, self.topics[name])
            while not parts and time.monotonic() < deadline:  # a topic created a moment ago
                await asyncio.sleep(0.2)
                parts = await _partitions(self.settings.kafka_bootstrap, self.topics[name])
            if not parts:
                raise GatekeeperError(f"topic {self.topics[name]} does not exist; run `aiops topics create`")
            counts[name] = len(parts)
        if counts[PROPOSALS] != counts[APPROVALS]:
            raise GatekeeperError(
                f"{self.topics[PROPOSALS]} has {counts[PROPOSALS]} partitions and {self.topics[APPROVALS]} "
                f"{counts[APPROVALS]}: they must be equal so that one instance sees a proposal and its approvals")
        if counts[GATEKEEPER_LEDGER] < counts[PROPOSALS]:
            raise GatekeeperError(f"{self.topics[GATEKEEPER_LEDGER]} needs at least {counts[PROPOSALS]} partitions "
                                  f"(one per proposals partition), has {counts[GATEKEEPER_LEDGER]}")

    # --- the consume loop ------------------------------------------------------------------------

    async def _loop(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            wait_ms = 500
            next_due = self.gate.timers.next_due_ms()
            if next_due is not None:
                wait_ms = max(0, min(wait_ms, next_due - self.gate.now_ms()))
            batch = await self._consumer.getmany(timeout_ms=wait_ms)
            # One step at a time: a rebalance waits (on_partitions_revoked) until this step is done.
            async with self._step:
                await self._step_once(batch)

    async def _step_once(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None
        # The assignment is set before the rebalance listener runs and before records are fetched, so
        # checking it here guarantees that no record is handled against state not yet restored.
        owned = {tp.partition for tp in self._consumer.assignment() if tp.topic == self.topics[PROPOSALS]}
        if self._restore_needed or owned != self._owned:
            self._restore_needed = False
            await self.restore(owned)
            if owned:
                self.ready.set()
        offsets = {}
        for tp, records in batch.items():
            if tp.partition not in self._owned:
                continue  # revoked meanwhile: its new owner handles these records
            for record in records:
                await self._handle(tp.topic, record)
            offsets[tp] = records[-1].offset + 1
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except CommitFailedError as exc:
                # Someone else owns these partitions now; it replays the records, which is harmless.
                log.warning("offset commit failed (%s); the partitions' new owner replays them", exc)
        await self.gate.run_due_timers(self._stop.is_set)

    async def _handle(self, topic: str, record: Any) -> None:
        metrics.RECORDS_IN.labels(topic).inc()
        unreadable = fetch_failure(record.headers)
        if unreadable:
            await self._dead_letter(record, FetchFailure(unreadable))
            return
        try:
            if topic == self.topics[PROPOSALS]:
                await self.gate.on_proposal(record)
            else:
                await self.gate.on_approval(record)
        except BadRecord as bad:
            await self._dead_letter(record, bad.error)

    # --- state restore ---------------------------------------------------------------------------

    async def restore(self, partitions: set[int]) -> None:
        """Drop all state, then read this instance's partitions of the ledger back from the beginning."""
        self.gate.reset()
        self._owned = set(partitions)
        if not partitions:
            return
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest")
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
        self.gate.restored()
        log.info("restored %d proposal(s) from %s partitions %s", len(self.gate.states),
                 self.topics[GATEKEEPER_LEDGER], sorted(partitions))

    # --- Kafka output ----------------------------------------------------------------------------

    async def _send(self, name: str, key: str, value: bytes, partition: int | None = None) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(self.topics[name], value, key=key.encode(), partition=partition)
        metrics.RECORDS_OUT.labels(self.topics[name]).inc()

    async def _dead_letter(self, record: Any, error: BaseException) -> None:
        producer = self._producer
        assert producer is not None

        async def send(letter: DeadLetter, value: bytes | None, headers: Headers) -> None:
            await producer.send_and_wait(dead_letter_topic(letter.topic), value, key=letter.key, headers=headers)

        await send_dead_letter(DeadLetter.of(record, error), send)

    # --- the execution tail ----------------------------------------------------------------------

    async def _start_execution_tail(self) -> None:
        """Follow aiops.executions (all partitions) from an hour ago, for the per-target execution count."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        topic = self.topics[EXECUTIONS]
        parts = await _partitions(self.settings.kafka_bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        since = await consumer.offsets_for_times({tp: self.gate.now_ms() - HOUR_MS for tp in tps})
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, since[tp].offset if since.get(tp) else end[tp])
        codec = self.gate.codecs["Execution"]
        recent = self.gate.recent

        def started(value: bytes | None) -> tuple[Execution, dict[str, Any]] | None:
            if value is None:
                raise SerializationError("execution record has no value")
            execution = Execution.from_avro(codec.decode(value))
            if execution.status is not ExecutionStatus.started:
                return None
            return execution, json.loads(execution.request).get("target") or {}

        def take(records: dict[Any, list[Any]]) -> None:
            for batch in records.values():
                for record in batch:
                    result = decode_or_letter(started, record)
                    if isinstance(result, DeadLetter):
                        # A follower re-reading the last hour at every start: triage dead-letters these.
                        skip_undecodable(result, "gatekeeper-execution-tail")
                    elif result is not None:
                        execution, target = result
                        recent.recorded.add(execution.proposal_id)
                        recent.add(execution.action, target, execution.proposal_id, to_ms(execution.started_at))

        pending = [tp for tp in tps if await consumer.position(tp) < end[tp]]
        while pending:
            take(await consumer.getmany(*pending, timeout_ms=1000))
            pending = [tp for tp in pending if await consumer.position(tp) < end[tp]]

        async def follow() -> None:
            try:
                while True:
                    take(await consumer.getmany(timeout_ms=1000))
            finally:
                await consumer.stop()

        self._tail_task = asyncio.create_task(follow())


async def _partitions(bootstrap: str, topic: str) -> set[int]:
    """The topic's partition numbers from fresh cluster metadata (empty when it does not exist)."""
    from confluent_kafka.admin import AdminClient

    def lookup() -> set[int]:
        metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return set()
        return set(metadata.partitions)

    return await asyncio.to_thread(lookup)


class _Rebalance(ConsumerRebalanceListener):
    """Rebalances wait for the step in progress (its records handled and committed), then force a restore."""

    def __init__(self, gatekeeper: Gatekeeper):
        self.gatekeeper = gatekeeper

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.gatekeeper._step:
            self.gatekeeper._restore_needed = True

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.gatekeeper._restore_needed = True
