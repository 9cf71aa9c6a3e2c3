"""The gatekeeper process: proposals and approvals in, OPA decisions and exactly-once executions out.

Built on aiokafka directly rather than on Faust, because exactly-once execution rests on one ordering
that must be visible in the code: the ledger record saying "started, idempotency key K" is written and
acknowledged by the broker (`send_and_wait`, acks=all) BEFORE the executor is called, and the result is
written after. Faust tables write their changelogs asynchronously in the background, so "the state is
durable before the side effect" could not be shown there. Here every step is an awaited call:

1. A proposal or approval (both keyed by proposal id; a range assignor gives one instance the same
   partition number of both topics) updates the proposal's state in memory.
2. OPA is asked (fail closed: no usable answer means deny, a Decision saying why, and a retry later).
   A Decision record is written for every evaluation.
3. The proposal's ledger entry is written (acknowledged). If the decision allows, that entry already
   says `execution.status = "started"` with the idempotency key.
4. Only then the executor is called, with the idempotency key; its result goes to the ledger and to
   aiops.executions.
5. The input offsets are committed after the batch.

A crash anywhere replays at most the uncommitted inputs: a proposal or approval already in the ledger is
recognised and changes nothing; one that is not is evaluated again (another Decision record, never a
second execution, because execution starts only from a ledger entry). A ledger entry that says "started"
without a result is reconciled by asking the executor for the operation's status by idempotency key
(platform-ctl `GET /v1/operations/{key}`) before ever sending it again.

Limits worth knowing: the jti replay index and the gate's view of state cover the partitions this
instance owns (a token carries its proposal id, which OPA checks, so a token still cannot authorise
another proposal); the per-target execution count reads aiops.executions from all partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError

from aiops.core import metrics
from aiops.core.avro import SchemaSet, codec_for
from aiops.core.catalog import ActionCatalog, InvalidAction, ValidatedAction
from aiops.core.deadletter import DeadLetter, dead_letter_topic
from aiops.core.errors import AiopsError, SerializationError
from aiops.core.settings import Settings
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.blast_radius import BlastRadius, blast_radius
from aiops.gatekeeper.errors import TokenError
from aiops.gatekeeper.ledger import ApprovalEntry, ExecutionEntry, ProposalState, RetryEntry
from aiops.gatekeeper.policy import PolicyAnswer, PolicyClient, PolicyUnavailable
from aiops.gatekeeper.records import decode_approval, policy_input, proposal_wire, rfc3339, to_ms
from aiops.gatekeeper.tokens import inspect
from connectors.executors import (
    ExecutionRequest,
    ExecutionResult,
    Executor,
    ExecutorError,
    OutcomeUnknown,
    build_executors,
)

log = logging.getLogger("gatekeeper")

PROPOSALS = "aiops.proposals"
APPROVALS = "aiops.approvals"
DECISIONS = "aiops.decisions"
EXECUTIONS = "aiops.executions"
LEDGER = "aiops.gatekeeper.ledger"
HOUR_MS = 3_600_000


class GatekeeperError(AiopsError):
    """The gatekeeper cannot run as configured (topics missing or partitioned unequally)."""


@dataclass(order=True)
class _Timer:
    due_ms: int
    seq: int
    proposal_id: str = field(compare=False)
    kind: str = field(compare=False)  # expiry | retry | reconcile


class RecentExecutions:
    """Executions started per (action, target) in the last hour, from aiops.executions (all partitions)."""

    def __init__(self) -> None:
        self._started: dict[tuple[str, str, str, str], dict[str, int]] = {}
        self.recorded: set[str] = set()  # proposal ids with a "started" Execution record on the topic

    def add(self, action: str, target: dict[str, Any], proposal_id: str, started_ms: int) -> None:
        key = (action, str(target.get("environment")), str(target.get("namespace")), str(target.get("service")))
        self._started.setdefault(key, {}).setdefault(proposal_id, started_ms)

    def count(self, action: str, target: dict[str, Any], now_ms: int, exclude: str | None = None) -> int:
        key = (action, str(target.get("environment")), str(target.get("namespace")), str(target.get("service")))
        return sum(1 for pid, ms in self._started.get(key, {}).items() if ms >= now_ms - HOUR_MS and pid != exclude)


class Gatekeeper:
    """One gatekeeper instance. `run()` until `stop()`; every dependency can be passed in for tests."""

    def __init__(self, settings: Settings, *, executors: dict[str, Executor] | None = None,
                 catalog: ActionCatalog | None = None, clock: Callable[[], float] = time.time,
                 instance_id: str | None = None):
        self.settings = settings
        self.catalog = catalog or ActionCatalog.for_settings(settings)
        self.executors = executors or build_executors(settings)
        self.clock = clock
        self.instance_id = instance_id
        self.topics = {name: settings.topic(name) for name in (PROPOSALS, APPROVALS, DECISIONS, EXECUTIONS, LEDGER)}
        schemas = SchemaSet.load(settings.schemas_dir)
        self.codecs = {
            "Proposal": codec_for("Proposal", self.topics[PROPOSALS], settings, schemas),
            "Approval": codec_for("Approval", self.topics[APPROVALS], settings, schemas),
            "Decision": codec_for("Decision", self.topics[DECISIONS], settings, schemas),
            "Execution": codec_for("Execution", self.topics[EXECUTIONS], settings, schemas),
        }
        self.policy = PolicyClient(settings.opa_url, settings.opa_timeout_s)
        self.states: dict[str, ProposalState] = {}
        self.jti_owner: dict[str, str] = {}
        self.recent = RecentExecutions()
        self._timers: list[_Timer] = []
        self._seq = 0
        self._stop = asyncio.Event()
        self._restore_needed = True
        self._step = asyncio.Lock()
        self._owned: set[int] = set()
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tail_task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def stop(self) -> None:
        self._stop.set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        bootstrap = self.settings.kafka_bootstrap
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                          linger_ms=0)
        await self._producer.start()
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
        for executor in self.executors.values():
            with contextlib.suppress(Exception):
                await executor.close()
        await self.policy.close()
        if self._producer:
            await self._producer.stop()

    async def _check_topics(self) -> None:
        counts = {}
        deadline = time.monotonic() + 15
        for name in (PROPOSALS, APPROVALS, LEDGER, DECISIONS, EXECUTIONS):
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
        if counts[LEDGER] < counts[PROPOSALS]:
            raise GatekeeperError(f"{self.topics[LEDGER]} needs at least {counts[PROPOSALS]} partitions "
                                  f"(one per proposals partition), has {counts[LEDGER]}")

    async def _loop(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            wait_ms = 500
            if self._timers:
                wait_ms = max(0, min(wait_ms, self._timers[0].due_ms - self.now_ms()))
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
            self._recover()
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
        await self._run_due_timers()

    # --- state restore ---------------------------------------------------------------------------

    async def restore(self, partitions: set[int]) -> None:
        """Drop all state, then read this instance's partitions of the ledger back from the beginning."""
        self.states.clear()
        self.jti_owner.clear()
        self._timers.clear()
        self._owned = set(partitions)
        if not partitions:
            return
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest")
        await reader.start()
        try:
            tps = [TopicPartition(self.topics[LEDGER], p) for p in sorted(partitions)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            end = await reader.end_offsets(tps)
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                batch = await reader.getmany(*remaining, timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        key = record.key.decode() if record.key else None
                        if key is None:
                            continue
                        if record.value is None:
                            self.states.pop(key, None)
                        else:
                            self.states[key] = ProposalState.from_json(record.value)
                for tp in list(remaining):
                    if await reader.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
        for state in self.states.values():
            for approval in state.approvals:
                if approval.jti:
                    self.jti_owner.setdefault(approval.jti, state.proposal_id)
        log.info("restored %d proposal(s) from %s partitions %s", len(self.states), self.topics[LEDGER],
                 sorted(partitions))

    def _recover(self) -> None:
        """Schedule what restored state still owes: reconciliations, retries and expiry decisions."""
        now = self.now_ms()
        for state in self.states.values():
            if state.status == "executing":
                self._schedule(now, state.proposal_id, "reconcile")
            elif state.proposal is not None and state.status in ("open", "expired"):
                if state.retry:
                    self._schedule(min(state.retry.due_ms, now), state.proposal_id, "retry")
                if not state.expiry_decided:
                    self._schedule(state.proposal["expires_at"], state.proposal_id, "expiry")

    # --- input -----------------------------------------------------------------------------------

    async def _handle(self, topic: str, record: Any) -> None:
        metrics.RECORDS_IN.labels(topic).inc()
        try:
            if topic == self.topics[PROPOSALS]:
                await self._on_proposal_record(record)
            else:
                await self._on_approval_record(record)
        except _DeadLetter as bad:
            await self._dead_letter(record, bad.error)

    async def _dead_letter(self, record: Any, error: BaseException) -> None:
        assert self._producer is not None
        letter = DeadLetter(record.key, record.value, error, record.topic, record.partition, record.offset)
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, letter.reason)
        await self._producer.send_and_wait(dead_letter_topic(record.topic), record.value, key=record.key,
                                           headers=letter.headers())
        metrics.DEAD_LETTERS.labels(record.topic, type(error).__name__).inc()

    def _key(self, record: Any, record_id: str, what: str) -> None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != record_id:
            raise _DeadLetter(SerializationError(
                f"{what} record key {key!r} is not its proposal id {record_id!r} (records must be keyed by "
                "proposal id so that one gatekeeper instance sees a proposal and its approvals)"))

    async def _on_proposal_record(self, record: Any) -> None:
        try:
            if record.value is None:
                raise SerializationError("proposal record has no value")
            proposal = proposal_wire(self.codecs["Proposal"].decode(record.value))
        except SerializationError as exc:
            raise _DeadLetter(exc) from None
        self._key(record, proposal["id"], "proposal")
        state = self.states.get(proposal["id"])
        if state is not None and state.proposal is not None:
            if state.proposal == proposal:
                return  # the same proposal again (a replay after a restart): nothing new to decide
            raise _DeadLetter(AiopsError(
                f"proposal id {proposal['id']!r} was already used for a different proposal; ids are never reused"))
        if state is None:
            state = self.states[proposal["id"]] = ProposalState(proposal["id"], record.partition)
        state.proposal = proposal
        expired = self.now_ms() >= proposal["expires_at"]
        await self._evaluate(state, "expiry" if expired else "proposal")
        if not state.expiry_decided and state.status == "open":
            self._schedule(proposal["expires_at"], state.proposal_id, "expiry")

    async def _on_approval_record(self, record: Any) -> None:
        try:
            approval = decode_approval(record.value, self.codecs["Approval"])
        except SerializationError as exc:
            raise _DeadLetter(exc) from None
        self._key(record, approval["proposal_id"], "approval")
        pid = approval["proposal_id"]
        entry = ApprovalEntry(proposal_id=pid, decision=approval["decision"], token=approval["token"],
                              source=approval["source"], time_ms=approval["time"], comment=approval.get("comment"))
        try:
            info = inspect(entry.token)
            entry.kid, entry.jti = info.kid, info.jti
        except TokenError as exc:
            entry.token_problem = str(exc)
        state = self.states.get(pid)
        if state is None:
            state = self.states[pid] = ProposalState(pid, record.partition)
        if any(entry.same_event(seen) for seen in state.approvals):
            return  # this very event again (a replay after a restart): it was handled already
        if entry.jti and entry.jti in state.seen_jtis():
            entry.excluded = f"replay: token jti {entry.jti} was already presented for this proposal"
        elif entry.jti and self.jti_owner.get(entry.jti, pid) != pid:
            entry.excluded = (f"token jti {entry.jti} was already presented for proposal "
                              f"{self.jti_owner[entry.jti]}; a token counts for one proposal only")
        if entry.jti:
            self.jti_owner.setdefault(entry.jti, pid)
        state.approvals.append(entry)
        if state.proposal is None:
            await self._persist(state)  # kept until its proposal arrives
            return
        if state.status in ("executing", "done"):
            await self._write_decision(state, allow=False, trigger="approval", reasons=[
                f"proposal {pid} was already executed (idempotency key "
                f"{state.execution.idempotency_key if state.execution else '?'}); nothing more to decide"],
                considered=self._considered(state, None, []))
            await self._persist(state)
            return
        await self._evaluate(state, "approval")

    # --- evaluation ------------------------------------------------------------------------------

    def _validated(self, proposal: dict[str, Any]) -> tuple[ValidatedAction | None, list[str]]:
        """The catalog's view of the proposal, and the reasons code alone denies it (these only add denials)."""
        try:
            validated = self.catalog.validate(proposal["action"], proposal["parameters"])
        except InvalidAction as exc:
            return None, [f"gatekeeper: {exc}"]
        reasons = []
        if validated.target.as_dict() != proposal["target"]:
            reasons.append(f"gatekeeper: the proposal's target {proposal['target']} is not the target its "
                           f"parameters name {validated.target.as_dict()}")
        return validated, reasons

    async def _blast_radius(self, validated: ValidatedAction | None, proposal: dict[str, Any]) -> BlastRadius:
        """What the action touches, never the proposer's number (an invalid action is denied by code anyway)."""
        if validated is None:
            return BlastRadius(0, "not measured: the action is not valid")
        return await blast_radius(validated, self.executors.get(validated.executor.value),
                                  self.settings.executor_timeout_s)

    async def _evaluate(self, state: ProposalState, trigger: str) -> None:
        proposal = state.proposal
        assert proposal is not None
        now_ms = self.now_ms()
        validated, gate_reasons = self._validated(proposal)
        target = validated.target.as_dict() if validated else proposal["target"]
        blast = await self._blast_radius(validated, proposal)
        sent = [a for a in state.approvals if a.excluded is None]
        document = policy_input(
            proposal, action_hash=action_hash(proposal["action"], proposal["parameters"]), target=target,
            blast_radius=blast.count, blast_radius_basis=blast.basis, approvals=sent, now_ns=now_ms * 1_000_000,
            recent_executions=self.recent.count(proposal["action"], target, now_ms, exclude=state.proposal_id))
        expired = now_ms >= proposal["expires_at"]
        try:
            answer = await self.policy.decide(document)
        except PolicyUnavailable as exc:
            attempt = (state.retry.attempt + 1) if state.retry else 1
            delay_s = min(self.settings.gatekeeper_retry_initial_s * 2 ** (attempt - 1),
                          self.settings.gatekeeper_retry_max_s)
            state.retry = RetryEntry(attempt=attempt, due_ms=self.now_ms() + int(delay_s * 1000), reason=exc.reason)
            reasons = [exc.reason, f"no execution without a policy decision; retry {attempt} in {delay_s:g}s"]
            await self._write_decision(state, allow=False, trigger=trigger, reasons=reasons + gate_reasons,
                                       considered=self._considered(state, None, sent), latency_ms=exc.latency_ms)
            if expired:
                state.expiry_decided = True
            await self._persist(state)
            self._schedule(state.retry.due_ms, state.proposal_id, "retry")
            return
        state.retry = None
        allow = answer.allow and validated is not None and not gate_reasons and not expired
        reasons = [] if allow else list(answer.reasons) + gate_reasons
        if answer.allow and not allow and expired:
            reasons.append(f"gatekeeper: proposal expired at {rfc3339(proposal['expires_at'])}")
        decision_id = await self._write_decision(state, allow=allow, trigger=trigger, reasons=reasons,
                                                 considered=self._considered(state, answer, sent), answer=answer)
        if expired:
            state.expiry_decided = True
            if not allow:
                state.status = "expired"
        if allow and validated is not None:
            await self._start_execution(state, decision_id, validated)
        else:
            await self._persist(state)

    def _considered(self, state: ProposalState, answer: PolicyAnswer | None,
                    sent: list[ApprovalEntry]) -> list[dict[str, Any]]:
        """Each approval with whether it counted and why not, as OPA explained it (by index into `sent`)."""
        why: dict[int, list[str]] = {}
        if answer is not None:
            for item in answer.result.get("rejected_approvals", []):
                if isinstance(item, dict) and isinstance(item.get("index"), int):
                    why.setdefault(item["index"], []).append(str(item.get("reason")))
        index = {id(a): i for i, a in enumerate(sent)}
        considered = []
        for approval in state.approvals:
            counted, reason = False, approval.excluded
            if reason is None and answer is None:
                reason = "not evaluated: no policy decision"
            elif reason is None:
                problems = why.get(index[id(approval)])
                if problems:
                    reason = "; ".join(problems)
                elif approval.decision == "reject":
                    counted, reason = True, "valid rejection (veto)"
                else:
                    counted = True
            if reason and approval.token_problem and not counted:
                reason = f"{reason} (token: {approval.token_problem})"
            considered.append({"decision": approval.decision, "source": approval.source,
                               "approver": approval.kid, "counted": counted, "reason": reason})
        return considered

    async def _write_decision(self, state: ProposalState, *, allow: bool, trigger: str, reasons: list[str],
                              considered: list[dict[str, Any]], answer: PolicyAnswer | None = None,
                              latency_ms: float | None = None) -> str:
        decision_id = uuid.uuid4().hex
        record = {
            "id": decision_id, "proposal_id": state.proposal_id,
            "opa_decision_id": answer.decision_id if answer else None, "allow": allow, "reasons": reasons,
            "approvals_considered": considered, "policy_revision": answer.policy_revision if answer else None,
            "trigger": trigger, "evaluated_at": self.now_ms(),
            "latency_ms": float(answer.latency_ms if answer else (latency_ms or 0.0)),
        }
        await self._send(DECISIONS, state.proposal_id, self.codecs["Decision"].encode(record))
        outcome = "allow" if allow else ("error" if answer is None else "deny")
        metrics.DECISIONS.labels(outcome).inc()
        if answer is not None:
            metrics.DECISION_LATENCY.observe(answer.latency_ms / 1000)
        state.decisions += 1
        state.last_decision_id = decision_id
        log.info("decision %s for %s (%s): allow=%s %s", decision_id, state.proposal_id, trigger, allow,
                 "; ".join(reasons))
        return decision_id

    # --- execution -------------------------------------------------------------------------------

    def _request(self, state: ProposalState) -> ExecutionRequest:
        proposal = state.proposal
        assert proposal is not None
        # Built from the catalog-validated values only, never from the raw proposal.
        validated = self.catalog.validate(proposal["action"], proposal["parameters"])
        return ExecutionRequest.from_validated(validated, idempotency_key=proposal["idempotency_key"],
                                               proposal_id=state.proposal_id)

    async def _start_execution(self, state: ProposalState, decision_id: str, validated: ValidatedAction,
                               attempt: int = 1) -> None:
        request = self._request(state)
        executor = "dry-run" if self.settings.gatekeeper_dry_run else validated.executor.value
        started = self.now_ms()
        state.status = "executing"
        state.execution = ExecutionEntry(
            id=uuid.uuid4().hex, decision_id=decision_id, idempotency_key=request.idempotency_key,
            executor=executor, attempt=attempt, status="started", started_at_ms=started, request=request.to_json())
        # The ledger says "started" (acknowledged) before the executor hears anything.
        await self._persist(state)
        self.recent.add(request.action, request.target, state.proposal_id, started)
        await self._write_execution(state)
        await self._call_executor(state, request)

    async def _call_executor(self, state: ProposalState, request: ExecutionRequest) -> None:
        entry = state.execution
        assert entry is not None
        executor = self.executors[entry.executor]
        try:
            result = await executor.execute(request)
        except ExecutorError as exc:
            result = ExecutionResult("failed", error=str(exc))
        except OutcomeUnknown as exc:
            log.warning("execution of %s: outcome unknown (%s); reconciling before anything else",
                        state.proposal_id, exc)
            entry.unknown_since_ms = entry.unknown_since_ms or self.now_ms()
            entry.error = str(exc)
            await self._persist(state)
            self._schedule(self.now_ms() + self._backoff_ms(entry.reconcile_attempt), state.proposal_id, "reconcile")
            return
        await self._finish(state, result)

    async def _finish(self, state: ProposalState, result: ExecutionResult, note: str | None = None) -> None:
        entry = state.execution
        assert entry is not None
        entry.status = result.status
        entry.response = result.response
        entry.error = result.error if not note else f"{note}: {result.error}" if result.error else note
        entry.finished_at_ms = self.now_ms()
        entry.unknown_since_ms = None
        state.status = "done"
        await self._persist(state)
        await self._write_execution(state)
        log.info("execution of %s (%s, key %s): %s", state.proposal_id, entry.executor, entry.idempotency_key,
                 result.status)

    def _backoff_ms(self, attempt: int) -> int:
        delay = min(self.settings.gatekeeper_retry_initial_s * 2 ** attempt, self.settings.gatekeeper_retry_max_s)
        return int(delay * 1000)

    async def _reconcile(self, state: ProposalState) -> None:
        """A started execution without a result: ask the executor by idempotency key, never call blindly."""
        entry = state.execution
        assert entry is not None and state.proposal is not None
        if state.proposal_id not in self.recent.recorded:
            # The process stopped between the ledger's "started" and the Execution record: write it now.
            await self._write_execution(state)
            self.recent.recorded.add(state.proposal_id)
        executor = self.executors[entry.executor]
        log.info("reconciling %s: its ledger says started (attempt %d) without a result; asking %s for "
                 "idempotency key %s", state.proposal_id, entry.attempt, entry.executor, entry.idempotency_key)
        try:
            result = await executor.status(entry.idempotency_key)
        except OutcomeUnknown as exc:
            if entry.executor == "webhook":
                await self._finish(state, ExecutionResult(
                    "failed", error=f"outcome unknown after an interrupted call; not sent again: {exc}"))
                return
            entry.reconcile_attempt += 1
            await self._persist(state)
            self._schedule(self.now_ms() + self._backoff_ms(entry.reconcile_attempt), state.proposal_id, "reconcile")
            log.warning("cannot reconcile %s yet: %s", state.proposal_id, exc)
            return
        if result is not None:
            await self._finish(state, result, note="reconciled by idempotency key after a restart")
            return
        # The executor never received it: now, and only now, it is sent (again with the same key).
        validated = self.catalog.validate(state.proposal["action"], state.proposal["parameters"])
        await self._start_execution(state, entry.decision_id, validated, attempt=entry.attempt + 1)

    async def _write_execution(self, state: ProposalState) -> None:
        entry = state.execution
        assert entry is not None and state.proposal is not None
        finished = entry.finished_at_ms
        record = {
            "id": entry.id, "proposal_id": state.proposal_id, "decision_id": entry.decision_id,
            "idempotency_key": entry.idempotency_key, "executor": entry.executor,
            "action": state.proposal["action"], "request": entry.request, "response": entry.response,
            "status": entry.status, "error": entry.error, "attempt": entry.attempt,
            "started_at": entry.started_at_ms, "finished_at": finished,
            "duration_ms": float(finished - entry.started_at_ms) if finished is not None else None,
        }
        await self._send(EXECUTIONS, state.proposal_id, self.codecs["Execution"].encode(record))
        metrics.EXECUTIONS.labels(entry.executor, entry.status).inc()

    # --- timers ----------------------------------------------------------------------------------

    def _schedule(self, due_ms: int, proposal_id: str, kind: str) -> None:
        self._seq += 1
        heapq.heappush(self._timers, _Timer(due_ms, self._seq, proposal_id, kind))

    async def _run_due_timers(self) -> None:
        while self._timers and self._timers[0].due_ms <= self.now_ms() and not self._stop.is_set():
            timer = heapq.heappop(self._timers)
            state = self.states.get(timer.proposal_id)
            if state is None or state.proposal is None:
                continue
            if timer.kind == "reconcile" and state.status == "executing":
                await self._reconcile(state)
            elif timer.kind == "retry" and state.retry and state.status in ("open", "expired") \
                    and state.retry.due_ms <= self.now_ms():
                await self._evaluate(state, "retry")
            elif timer.kind == "expiry" and state.status == "open" and not state.expiry_decided:
                if self.now_ms() < state.proposal["expires_at"]:
                    self._schedule(state.proposal["expires_at"], state.proposal_id, "expiry")
                    continue
                await self._evaluate(state, "expiry")

    # --- Kafka output ----------------------------------------------------------------------------

    async def _send(self, name: str, key: str, value: bytes, partition: int | None = None) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(self.topics[name], value, key=key.encode(), partition=partition)
        metrics.RECORDS_OUT.labels(self.topics[name]).inc()

    async def _persist(self, state: ProposalState) -> None:
        await self._send(LEDGER, state.proposal_id, state.to_json(), partition=state.partition)

    async def _start_execution_tail(self) -> None:
        """Follow aiops.executions (all partitions) from an hour ago, for the per-target execution count."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        topic = self.topics[EXECUTIONS]
        parts = await _partitions(self.settings.kafka_bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        since = await consumer.offsets_for_times({tp: self.now_ms() - HOUR_MS for tp in tps})
        end = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, since[tp].offset if since.get(tp) else end[tp])
        codec = self.codecs["Execution"]

        def take(records: dict[Any, list[Any]]) -> None:
            for batch in records.values():
                for record in batch:
                    try:
                        execution = codec.decode(record.value)
                        if execution["status"] == "started":
                            self.recent.recorded.add(execution["proposal_id"])
                            target = json.loads(execution["request"]).get("target") or {}
                            self.recent.add(execution["action"], target, execution["proposal_id"],
                                            to_ms(execution["started_at"]))
                    except (SerializationError, ValueError, AttributeError, TypeError):
                        continue  # not ours to judge: other tools read this topic too

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


class _DeadLetter(Exception):
    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class _Rebalance(ConsumerRebalanceListener):
    """Rebalances wait for the step in progress (its records handled and committed), then force a restore."""

    def __init__(self, gatekeeper: Gatekeeper):
        self.gatekeeper = gatekeeper

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.gatekeeper._step:
            self.gatekeeper._restore_needed = True

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.gatekeeper._restore_needed = True
