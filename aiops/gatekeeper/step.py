"""The gatekeeper's step: a proposal or approval in, an OPA decision, the ledger, and at most one execution.

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
5. The input offsets are committed after the batch (aiops/gatekeeper/service.py, the Kafka plumbing).

A crash anywhere replays at most the uncommitted inputs: a proposal or approval already in the ledger is
recognised and changes nothing; one that is not is evaluated again (another Decision record, never a
second execution, because execution starts only from a ledger entry). A ledger entry that says "started"
without a result is reconciled by asking the executor for the operation's status by idempotency key
(platform-ctl `GET /v1/operations/{key}`) before ever sending it again.

Limits worth knowing: the jti replay index and the gate's view of state cover the partitions this
instance owns (a token carries its proposal id, which OPA checks, so a token still cannot authorise
another proposal); the per-target execution count reads aiops.executions from all partitions.

This module reads top to bottom in that order: input, evaluation, execution, timers; then restoring the
state from the ledger after a (re)assignment. It writes through `send`, which returns once the broker
acknowledged; it never touches a consumer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiops.core import metrics
from aiops.core.avro import AvroCodec
from aiops.core.catalog import ActionCatalog, ValidatedAction
from aiops.core.deadletter import ConsumedMessage
from aiops.core.errors import AiopsError, InvalidAction, SerializationError
from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, EXECUTIONS, GATEKEEPER_LEDGER
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.errors import BadRecord, PolicyUnavailable, TokenError
from aiops.gatekeeper.ledger import ApprovalEntry, ExecutionEntry, ProposalState, RetryEntry
from aiops.gatekeeper.policy import PolicyAnswer, PolicyClient
from aiops.gatekeeper.recent import RecentExecutions
from aiops.gatekeeper.records import (
    approvals_considered,
    decode_approval,
    execution_record,
    policy_input,
)
from aiops.gatekeeper.timers import Timers
from aiops.gatekeeper.times import from_ms, rfc3339
from aiops.gatekeeper.tokens import inspect
from connectors.errors import ExecutorError, OutcomeUnknown
from connectors.executors import ExecutionRequest, ExecutionResult, Executor
from streams.output_records import ApprovalConsidered, Decision, Proposal

log = logging.getLogger("gatekeeper")

# Produces one record (catalog topic name, key, value, partition) and returns once the broker acknowledged it.
Send = Callable[[str, str, bytes, int | None], Awaitable[None]]


class ProposalGate:
    """The state of this instance's proposals and the step that moves each one on."""

    def __init__(self, settings: Settings, catalog: ActionCatalog, executors: dict[str, Executor],
                 codecs: dict[str, AvroCodec], send: Send, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.catalog = catalog
        self.executors = executors
        self.codecs = codecs  # by record name: Proposal, Approval, Decision, Execution
        self.send = send
        self.clock = clock
        self.policy = PolicyClient(settings.opa_url, settings.opa_timeout_s)
        self.states: dict[str, ProposalState] = {}
        self.jti_owner: dict[str, str] = {}
        self.recent = RecentExecutions()
        self.timers = Timers()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- input -----------------------------------------------------------------------------------

    @staticmethod
    def _check_key(record: ConsumedMessage, record_id: str, what: str) -> None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != record_id:
            raise BadRecord(SerializationError(
                f"{what} record key {key!r} is not its proposal id {record_id!r} (records must be keyed by "
                "proposal id so that one gatekeeper instance sees a proposal and its approvals)"))

    async def on_proposal(self, record: ConsumedMessage) -> None:
        """A Proposal record: evaluated once (a replay of the same proposal changes nothing)."""
        try:
            if record.value is None:
                raise SerializationError("proposal record has no value")
            proposal = Proposal.from_avro(self.codecs["Proposal"].decode(record.value))
        except (SerializationError, ValueError) as exc:
            raise BadRecord(exc) from None
        self._check_key(record, proposal.id, "proposal")
        state = self.states.get(proposal.id)
        if state is not None and state.proposal is not None:
            if state.proposal == proposal:
                return  # the same proposal again (a replay after a restart): nothing new to decide
            raise BadRecord(AiopsError(
                f"proposal id {proposal.id!r} was already used for a different proposal; ids are never reused"))
        if state is None:
            state = self.states[proposal.id] = ProposalState(proposal.id, record.partition)
        state.proposal = proposal
        expired = self.now_ms() >= state.expires_at_ms
        await self.evaluate(state, "expiry" if expired else "proposal")
        if not state.expiry_decided and state.status == "open":
            self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")

    async def on_approval(self, record: ConsumedMessage) -> None:
        """An Approval record: kept with its proposal, then the proposal is evaluated again."""
        try:
            approval = decode_approval(record.value, self.codecs["Approval"])
        except SerializationError as exc:
            raise BadRecord(exc) from None
        self._check_key(record, approval["proposal_id"], "approval")
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
                considered=approvals_considered(state, None, []))
            await self._persist(state)
            return
        await self.evaluate(state, "approval")

    # --- evaluation ------------------------------------------------------------------------------

    def _validated(self, proposal: Proposal) -> tuple[ValidatedAction | None, list[str]]:
        """The catalog's view of the proposal, and the reasons code alone denies it (these only add denials)."""
        try:
            validated = self.catalog.validate(proposal.action, dict(proposal.parameters))
        except InvalidAction as exc:
            return None, [f"gatekeeper: {exc}"]
        reasons = []
        if validated.target.as_dict() != proposal.target.model_dump():
            reasons.append(f"gatekeeper: the proposal's target {proposal.target.model_dump()} is not the target its "
                           f"parameters name {validated.target.as_dict()}")
        return validated, reasons

    async def evaluate(self, state: ProposalState, trigger: str) -> None:
        """Ask OPA, write the Decision, then the ledger; execute when allowed (fail closed otherwise)."""
        proposal = state.proposal
        assert proposal is not None
        now_ms = self.now_ms()
        validated, gate_reasons = self._validated(proposal)
        target = validated.target.as_dict() if validated else proposal.target.model_dump()
        blast = max(proposal.blast_radius, validated.blast_radius) if validated else proposal.blast_radius
        sent = [a for a in state.approvals if a.excluded is None]
        document = policy_input(
            proposal, action_hash=action_hash(proposal.action, dict(proposal.parameters)), target=target,
            blast_radius=blast, approvals=sent, now_ns=now_ms * 1_000_000,
            recent_executions=self.recent.count(proposal.action, target, now_ms, exclude=state.proposal_id))
        expired = now_ms >= state.expires_at_ms
        try:
            answer = await self.policy.decide(document)
        except PolicyUnavailable as exc:
            attempt = (state.retry.attempt + 1) if state.retry else 1
            delay_s = min(self.settings.gatekeeper_retry_initial_s * 2 ** (attempt - 1),
                          self.settings.gatekeeper_retry_max_s)
            state.retry = RetryEntry(attempt=attempt, due_ms=self.now_ms() + int(delay_s * 1000), reason=exc.reason)
            reasons = [exc.reason, f"no execution without a policy decision; retry {attempt} in {delay_s:g}s"]
            await self._write_decision(state, allow=False, trigger=trigger, reasons=reasons + gate_reasons,
                                       considered=approvals_considered(state, None, sent), latency_ms=exc.latency_ms)
            if expired:
                state.expiry_decided = True
            await self._persist(state)
            self.timers.schedule(state.retry.due_ms, state.proposal_id, "retry")
            return
        state.retry = None
        allow = answer.allow and validated is not None and not gate_reasons and not expired
        reasons = [] if allow else list(answer.reasons) + gate_reasons
        if answer.allow and not allow and expired:
            reasons.append(f"gatekeeper: proposal expired at {rfc3339(state.expires_at_ms)}")
        decision_id = await self._write_decision(state, allow=allow, trigger=trigger, reasons=reasons,
                                                 considered=approvals_considered(state, answer, sent), answer=answer)
        if expired:
            state.expiry_decided = True
            if not allow:
                state.status = "expired"
        if allow and validated is not None:
            await self._start_execution(state, decision_id, validated)
        else:
            await self._persist(state)

    async def _write_decision(self, state: ProposalState, *, allow: bool, trigger: str, reasons: list[str],
                              considered: list[ApprovalConsidered], answer: PolicyAnswer | None = None,
                              latency_ms: float | None = None) -> str:
        decision = Decision(
            id=uuid.uuid4().hex, proposal_id=state.proposal_id,
            opa_decision_id=answer.decision_id if answer else None, allow=allow, reasons=reasons,
            approvals_considered=considered, policy_revision=answer.policy_revision if answer else None,
            trigger=trigger, evaluated_at=from_ms(self.now_ms()),
            latency_ms=float(answer.latency_ms if answer else (latency_ms or 0.0)),
        )
        decision_id = decision.id
        await self.send(DECISIONS, state.proposal_id, self.codecs["Decision"].encode(decision.to_avro()), None)
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
        validated = self.catalog.validate(proposal.action, dict(proposal.parameters))
        return ExecutionRequest(idempotency_key=proposal.idempotency_key, proposal_id=state.proposal_id,
                                action=proposal.action, target=validated.target.as_dict(),
                                parameters=dict(proposal.parameters))

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
            self.timers.schedule(self.now_ms() + self._backoff_ms(entry.reconcile_attempt), state.proposal_id,
                                 "reconcile")
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
            self.timers.schedule(self.now_ms() + self._backoff_ms(entry.reconcile_attempt), state.proposal_id,
                                 "reconcile")
            log.warning("cannot reconcile %s yet: %s", state.proposal_id, exc)
            return
        if result is not None:
            await self._finish(state, result, note="reconciled by idempotency key after a restart")
            return
        # The executor never received it: now, and only now, it is sent (again with the same key).
        validated = self.catalog.validate(state.proposal.action, dict(state.proposal.parameters))
        await self._start_execution(state, entry.decision_id, validated, attempt=entry.attempt + 1)

    async def _write_execution(self, state: ProposalState) -> None:
        entry = state.execution
        assert entry is not None
        value = self.codecs["Execution"].encode(execution_record(state).to_avro())
        await self.send(EXECUTIONS, state.proposal_id, value, None)
        metrics.EXECUTIONS.labels(entry.executor, entry.status).inc()

    async def _persist(self, state: ProposalState) -> None:
        await self.send(GATEKEEPER_LEDGER, state.proposal_id, state.to_json(), state.partition)

    # --- timers ----------------------------------------------------------------------------------

    async def run_due_timers(self, stopping: Callable[[], bool]) -> None:
        """Expiry decisions, retries after OPA failed, and reconciliations that are due."""
        while not stopping() and (timer := self.timers.pop_due(self.now_ms())) is not None:
            state = self.states.get(timer.proposal_id)
            if state is None or state.proposal is None:
                continue
            if timer.kind == "reconcile" and state.status == "executing":
                await self._reconcile(state)
            elif timer.kind == "retry" and state.retry and state.status in ("open", "expired") \
                    and state.retry.due_ms <= self.now_ms():
                await self.evaluate(state, "retry")
            elif timer.kind == "expiry" and state.status == "open" and not state.expiry_decided:
                if self.now_ms() < state.expires_at_ms:
                    self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")
                    continue
                await self.evaluate(state, "expiry")

    # --- restore after a (re)assignment ----------------------------------------------------------

    def reset(self) -> None:
        """Forget all state (the partitions owned are about to change)."""
        self.states.clear()
        self.jti_owner.clear()
        self.timers.clear()

    def restore_entry(self, key: bytes | None, value: bytes | None) -> None:
        """One ledger record read back: the proposal's latest state (a tombstone forgets it)."""
        if not key:
            return
        if value is None:
            self.states.pop(key.decode(), None)
        else:
            self.states[key.decode()] = ProposalState.from_json(value)

    def restored(self) -> None:
        """After the ledger was read back: the jti index, and what restored state still owes (reconciliations,
        retries and expiry decisions) on the timers."""
        now = self.now_ms()
        for state in self.states.values():
            for approval in state.approvals:
                if approval.jti:
                    self.jti_owner.setdefault(approval.jti, state.proposal_id)
            if state.status == "executing":
                self.timers.schedule(now, state.proposal_id, "reconcile")
            elif state.proposal is not None and state.status in ("open", "expired"):
                if state.retry:
                    self.timers.schedule(min(state.retry.due_ms, now), state.proposal_id, "retry")
                if not state.expiry_decided:
                    self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")

    async def close(self) -> None:
        await self.policy.close()
