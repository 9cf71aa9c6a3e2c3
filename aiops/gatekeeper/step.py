"""The gatekeeper's step: a proposal or approval in, an OPA decision, the ledger, and at most one execution.

Built on aiokafka directly rather than on Faust, because exactly-once execution rests on one ordering
that must be visible in the code: the ledger record saying "started, idempotency key K" is committed
(a Kafka transaction, acks=all) BEFORE the executor is called, and the result is written after. Faust
tables write their changelogs asynchronously in the background, so "the state is durable before the side
effect" could not be shown there. Here every step is an awaited call:

1. A proposal or approval (both keyed by proposal id; a range assignor gives one instance the same
   partition number of both topics) updates the proposal's state in memory. Approvals are admitted first
   (intake.py): only approvals signed by a bundle key are kept, one per approver, a few per proposal.
2. OPA is asked (fail closed: no usable answer means deny, a Decision saying why, and a retry later).
   A Decision record is written for every evaluation.
3. The proposal's ledger entry is written. If the decision allows, that entry already says
   `execution.status = "started"` with the idempotency key, and the partition's transaction is committed.
4. Only then the executor is called (execution.py, concurrently across targets, in order per target), with
   the idempotency key; its result goes to the ledger and to aiops.executions in a transaction of its own.
5. The input offsets are committed after the batch (aiops/gatekeeper/service.py, the Kafka plumbing).

A crash anywhere replays at most the uncommitted inputs: a proposal or approval already in the ledger is
recognised and changes nothing; one that is not is evaluated again (another Decision record, never a
second execution, because execution starts only from a committed ledger entry). A ledger entry that says
"started" without a result is reconciled by asking the executor for the operation's status by idempotency
key (platform-ctl `GET /v1/operations/{key}`) before ever sending it again; an executor that cannot be asked
gets `outcome_unknown` and a Decision that hands the action to a person. A paused instance that lost its
partition cannot commit anything more for it (writers.py: fencing).

Limits worth knowing: the jti replay index and the gate's view of state cover the partitions this
instance owns (a token carries its proposal id, which OPA checks, so a token still cannot authorise
another proposal); the per-target execution count reads aiops.executions from all partitions.

This module reads top to bottom in that order: input, evaluation, vetoes after execution, timers; then
restoring the state from the ledger after a (re)assignment. It writes through `outputs`, into the
transaction of the proposal's partition; it never touches a consumer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiops.core import metrics
from aiops.core.avro import AvroCodec
from aiops.core.catalog import ActionCatalog, InvalidAction, ValidatedAction
from aiops.core.deadletter import ConsumedMessage, DeadLetter, decode_or_letter
from aiops.core.errors import AiopsError, SerializationError
from aiops.core.settings import Settings
from aiops.core.topics import DECISIONS, EXECUTIONS, GATEKEEPER_LEDGER
from aiops.gatekeeper.binding import action_hash
from aiops.gatekeeper.blast_radius import BlastRadius, blast_radius
from aiops.gatekeeper.bounds import decode_bounded_approval, decode_proposal
from aiops.gatekeeper.bundle_keys import BundleKeys
from aiops.gatekeeper.contracts import Outputs
from aiops.gatekeeper.errors import BadRecord, PolicyUnavailable
from aiops.gatekeeper.execution import ExecutionRunner
from aiops.gatekeeper.intake import admit
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState, RetryEntry
from aiops.gatekeeper.policy import PolicyAnswer, PolicyClient
from aiops.gatekeeper.recent import RecentExecutions
from aiops.gatekeeper.records import approvals_considered, execution_record, policy_input
from aiops.gatekeeper.timers import Timer, Timers
from aiops.gatekeeper.times import from_ms, rfc3339
from aiops.gatekeeper.vetoes import after_execution
from connectors.executors import Executor
from streams.output_records import ApprovalConsidered, Decision, Proposal

log = logging.getLogger("gatekeeper")


class ProposalGate:
    """The state of this instance's proposals and the step that moves each one on."""

    def __init__(self, settings: Settings, catalog: ActionCatalog, executors: dict[str, Executor],
                 codecs: dict[str, AvroCodec], outputs: Outputs, clock: Callable[[], float] = time.time,
                 keys: BundleKeys | None = None):
        self.settings = settings
        self.catalog = catalog
        self.executors = executors
        self.codecs = codecs  # by record name: Proposal, Approval, Decision, Execution
        self.outputs = outputs
        self.clock = clock
        self.policy = PolicyClient(settings.opa_url, settings.opa_timeout_s)
        self.keys = keys or BundleKeys(settings.opa_url, settings.opa_timeout_s)
        self.states: dict[str, ProposalState] = {}
        self.jti_owner: dict[str, str] = {}
        self.recent = RecentExecutions()
        self.timers = Timers()
        self.runner = ExecutionRunner(self, executors)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- input -----------------------------------------------------------------------------------

    def _decoded(self, record: ConsumedMessage, decode: Callable[[bytes | None], Any]) -> Any:
        """The record decoded within its bounds; larger than the record limit, it is not even decoded."""
        result = decode_or_letter(decode, record, self.settings.max_record_bytes)
        if isinstance(result, DeadLetter):
            raise BadRecord(result.error)
        return result

    @staticmethod
    def _check_key(record: ConsumedMessage, record_id: str, what: str) -> None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        if key != record_id:
            raise BadRecord(SerializationError(
                f"{what} record key {key!r} is not its proposal id {record_id!r} (records must be keyed by "
                "proposal id so that one gatekeeper instance sees a proposal and its approvals)"))

    async def on_proposal(self, record: ConsumedMessage) -> None:
        """A Proposal record: evaluated once (a replay of the same proposal changes nothing)."""
        proposal = self._decoded(record, lambda value: decode_proposal(value, self.codecs["Proposal"]))
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
        state.orphan_since_ms = None
        expired = self.now_ms() >= state.expires_at_ms
        await self.evaluate(state, "expiry" if expired else "proposal")
        if not state.expiry_decided and state.status == "open":
            self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")

    async def on_approval(self, record: ConsumedMessage) -> None:
        """An Approval record: admitted (or dead-lettered with the reason), then the proposal is evaluated."""
        approval = self._decoded(record, lambda value: decode_bounded_approval(value, self.codecs["Approval"]))
        self._check_key(record, approval["proposal_id"], "approval")
        pid = approval["proposal_id"]
        entry = ApprovalEntry(proposal_id=pid, decision=approval["decision"], token=approval["token"],
                              source=approval["source"], time_ms=approval["time"], comment=approval.get("comment"))
        state = self.states.get(pid) or ProposalState(pid, record.partition)
        kid = _kid_of(entry.token)
        key = await self.keys.key_for(kid) if kid else None
        admission = admit(entry, state, key, self.keys.known, self.jti_owner,
                          self.settings.gatekeeper_max_approvals_per_proposal)
        if admission.replay:
            return  # this very event again (a replay after a restart): it was handled already
        if not admission.keep:
            metrics.APPROVALS_DROPPED.labels(admission.label).inc()
            explained = state.dropped_approvals < self.settings.gatekeeper_max_approvals_per_proposal
            if state.proposal is None or state.status != "open" or not explained:
                # Past the few a Decision explains, junk costs a dead letter and nothing else.
                raise BadRecord(AiopsError(f"approval for {pid} not kept: {admission.reason}"))
            state.dropped_approvals += 1
            await self.evaluate(state, "approval", dropped=(entry, admission.reason or "not kept"))
            return
        self.states.setdefault(pid, state)
        if admission.supersedes is not None:
            state.approvals.remove(admission.supersedes)
            log.info("approval from %s for %s replaces their earlier one", entry.approver, pid)
        state.approvals.append(entry)
        if entry.jti:
            self.jti_owner.setdefault(entry.jti, pid)
        if state.proposal is None:
            if state.orphan_since_ms is None:
                state.orphan_since_ms = self.now_ms()
                self.timers.schedule(state.orphan_since_ms + int(self.settings.gatekeeper_orphan_approval_ttl_s
                                                                 * 1000), pid, "orphan")
            await self.persist(state)  # kept until its proposal arrives (or the wait expires)
            return
        if state.status in ("executing", "done"):
            await after_execution(self, state, entry)
            return
        await self.evaluate(state, "approval")

    # --- evaluation ------------------------------------------------------------------------------

    def validated(self, proposal: Proposal) -> tuple[ValidatedAction | None, list[str]]:
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

    async def _blast_radius(self, validated: ValidatedAction | None) -> BlastRadius:
        """What the action touches, never the proposer's number (an invalid action is denied by code anyway)."""
        if validated is None:
            return BlastRadius(0, "not measured: the action is not valid")
        return await blast_radius(validated, self.executors.get(validated.executor.value),
                                  self.settings.executor_timeout_s)

    async def document(self, state: ProposalState, validated: ValidatedAction | None,
                        approvals: list[ApprovalEntry]) -> dict[str, Any]:
        proposal = state.proposal
        assert proposal is not None
        now_ms = self.now_ms()
        target = validated.target.as_dict() if validated else proposal.target.model_dump()
        blast = await self._blast_radius(validated)
        return policy_input(
            proposal, action_hash=action_hash(proposal.action, dict(proposal.parameters)), target=target,
            blast_radius=blast.count, blast_radius_basis=blast.basis, approvals=approvals, now_ns=now_ms * 1_000_000,
            recent_executions=self.recent.count(proposal.action, target, now_ms, exclude=state.proposal_id))

    async def evaluate(self, state: ProposalState, trigger: str,
                       dropped: tuple[ApprovalEntry, str] | None = None) -> None:
        """Ask OPA, write the Decision, then the ledger; execute when allowed (fail closed otherwise).

        `dropped` is an approval event that was not kept (with the reason): OPA is shown it so that the Decision
        explains it, but an evaluation it triggered never allows.
        """
        proposal = state.proposal
        assert proposal is not None
        validated, gate_reasons = self.validated(proposal)
        if dropped is not None:
            gate_reasons = [*gate_reasons, f"gatekeeper: an approval was not kept ({dropped[1]})"]
        sent = [a for a in state.approvals if a.excluded is None] + ([dropped[0]] if dropped else [])
        document = await self.document(state, validated, sent)
        expired = self.now_ms() >= state.expires_at_ms
        try:
            answer = await self.policy.decide(document)
        except PolicyUnavailable as exc:
            attempt = (state.retry.attempt + 1) if state.retry else 1
            delay_s = min(self.settings.gatekeeper_retry_initial_s * 2 ** (attempt - 1),
                          self.settings.gatekeeper_retry_max_s)
            state.retry = RetryEntry(attempt=attempt, due_ms=self.now_ms() + int(delay_s * 1000), reason=exc.reason)
            reasons = [exc.reason, f"no execution without a policy decision; retry {attempt} in {delay_s:g}s"]
            await self.write_decision(state, allow=False, trigger=trigger, reasons=reasons + gate_reasons,
                                      considered=approvals_considered(state, None, sent, dropped),
                                      latency_ms=exc.latency_ms)
            if expired:
                state.expiry_decided = True
            await self.persist(state)
            self.timers.schedule(state.retry.due_ms, state.proposal_id, "retry")
            return
        state.retry = None
        allow = answer.allow and validated is not None and not gate_reasons and not expired
        reasons = [] if allow else list(answer.reasons) + gate_reasons
        if answer.allow and not allow and expired:
            reasons.append(f"gatekeeper: proposal expired at {rfc3339(state.expires_at_ms)}")
        decision_id = await self.write_decision(state, allow=allow, trigger=trigger, reasons=reasons,
                                                considered=approvals_considered(state, answer, sent, dropped),
                                                answer=answer)
        if expired:
            state.expiry_decided = True
            if not allow:
                state.status = "expired"
        if allow and validated is not None:
            await self.runner.start(state, decision_id, validated)
        else:
            await self.persist(state)

    async def write_decision(self, state: ProposalState, *, allow: bool, trigger: str, reasons: list[str],
                             considered: list[ApprovalConsidered], answer: PolicyAnswer | None = None,
                             latency_ms: float | None = None) -> str:
        decision = Decision(
            id=uuid.uuid4().hex, proposal_id=state.proposal_id,
            opa_decision_id=answer.decision_id if answer else None, allow=allow, reasons=reasons,
            approvals_considered=considered, policy_revision=answer.policy_revision if answer else None,
            trigger=trigger, evaluated_at=from_ms(self.now_ms()),
            latency_ms=float(answer.latency_ms if answer else (latency_ms or 0.0)),
            autonomy_grant=_autonomy_grant(answer) if allow else None,
        )
        decision_id = decision.id
        await self.outputs.send(state.partition, DECISIONS, state.proposal_id,
                                self.codecs["Decision"].encode(decision.to_avro()))
        outcome = "allow" if allow else ("error" if answer is None else "deny")
        metrics.DECISIONS.labels(outcome).inc()
        if answer is not None:
            metrics.DECISION_LATENCY.observe(answer.latency_ms / 1000)
        state.decisions += 1
        state.last_decision_id = decision_id
        log.info("decision %s for %s (%s): allow=%s %s", decision_id, state.proposal_id, trigger, allow,
                 "; ".join(reasons))
        return decision_id

    async def write_execution(self, state: ProposalState) -> None:
        entry = state.execution
        assert entry is not None
        await self.outputs.send(state.partition, EXECUTIONS, state.proposal_id,
                                self.codecs["Execution"].encode(execution_record(state).to_avro()))
        metrics.EXECUTIONS.labels(entry.executor, entry.status).inc()

    async def persist(self, state: ProposalState) -> None:
        await self.outputs.send(state.partition, GATEKEEPER_LEDGER, state.proposal_id, state.to_json(),
                                state.partition)

    # --- timers ----------------------------------------------------------------------------------

    def pop_due_timer(self) -> tuple[int, Timer] | None:
        """The next due timer with the partition of its proposal (timers of forgotten proposals are dropped)."""
        while (timer := self.timers.pop_due(self.now_ms())) is not None:
            state = self.states.get(timer.proposal_id)
            if state is not None:
                return state.partition, timer
        return None

    async def run_timer(self, timer: Timer) -> None:
        """Expiry decisions, retries after OPA failed, reconciliations, and approvals that waited too long."""
        state = self.states.get(timer.proposal_id)
        if state is None:
            return
        if timer.kind == "orphan" and state.proposal is None and state.orphan_since_ms is not None:
            await self._expire_orphan(state)
        if state.proposal is None:
            return
        if timer.kind == "reconcile" and state.status == "executing":
            self.runner.reconcile_later(state)
        elif timer.kind == "retry" and state.retry and state.status in ("open", "expired") \
                and state.retry.due_ms <= self.now_ms():
            await self.evaluate(state, "retry")
        elif timer.kind == "expiry" and state.status == "open" and not state.expiry_decided:
            if self.now_ms() < state.expires_at_ms:
                self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")
                return
            await self.evaluate(state, "expiry")

    async def _expire_orphan(self, state: ProposalState) -> None:
        """Approvals whose proposal never came: a record saying so, then a tombstone in the ledger."""
        assert state.orphan_since_ms is not None
        due = state.orphan_since_ms + int(self.settings.gatekeeper_orphan_approval_ttl_s * 1000)
        if self.now_ms() < due:
            self.timers.schedule(due, state.proposal_id, "orphan")
            return
        await self.write_decision(state, allow=False, trigger="orphan_expiry", reasons=[
            f"gatekeeper: no proposal {state.proposal_id} arrived within "
            f"{self.settings.gatekeeper_orphan_approval_ttl_s:g}s of its first approval; {len(state.approvals)} "
            "approval(s) expired and were forgotten"], considered=approvals_considered(state, None, []))
        await self.outputs.send(state.partition, GATEKEEPER_LEDGER, state.proposal_id, None, state.partition)
        for approval in state.approvals:
            if approval.jti and self.jti_owner.get(approval.jti) == state.proposal_id:
                del self.jti_owner[approval.jti]
        del self.states[state.proposal_id]

    # --- restore after a (re)assignment ----------------------------------------------------------

    def reset(self, partitions: set[int] | None = None) -> None:
        """Forget the state of these partitions (all when None): their ledger is about to be read back."""
        if partitions is None:
            self.states.clear()
        else:
            for pid in [pid for pid, s in self.states.items() if s.partition in partitions]:
                del self.states[pid]
        self.jti_owner = {a.jti: s.proposal_id for s in self.states.values() for a in s.approvals if a.jti}
        self.timers.keep(lambda timer: timer.proposal_id in self.states)

    def restore_entry(self, key: bytes | None, value: bytes | None) -> None:
        """One ledger record read back: the proposal's latest state (a tombstone forgets it)."""
        if not key:
            return
        if value is None:
            self.states.pop(key.decode(), None)
        else:
            self.states[key.decode()] = ProposalState.from_json(value)

    def restored(self, partitions: set[int] | None = None) -> None:
        """After the ledger was read back: the jti index, and what restored state still owes (reconciliations,
        retries, expiry decisions, orphan expiries) on the timers."""
        now = self.now_ms()
        for state in self.states.values():
            if partitions is not None and state.partition not in partitions:
                continue
            for approval in state.approvals:
                if approval.jti:
                    self.jti_owner.setdefault(approval.jti, state.proposal_id)
            if state.proposal is None and state.orphan_since_ms is not None:
                self.timers.schedule(state.orphan_since_ms + int(self.settings.gatekeeper_orphan_approval_ttl_s
                                                                 * 1000), state.proposal_id, "orphan")
            elif state.status == "executing":
                self.timers.schedule(now, state.proposal_id, "reconcile")
            elif state.proposal is not None and state.status in ("open", "expired"):
                if state.retry:
                    self.timers.schedule(min(state.retry.due_ms, now), state.proposal_id, "retry")
                if not state.expiry_decided:
                    self.timers.schedule(state.expires_at_ms, state.proposal_id, "expiry")

    async def close(self) -> None:
        await self.runner.close()
        await self.policy.close()
        await self.keys.close()


def _autonomy_grant(answer: PolicyAnswer | None) -> str | None:
    """The trust ladder's grant OPA allowed this under without approval (policy/earned_autonomy.rego), if any."""
    grant = answer.result.get("autonomy_grant") if answer else None
    return grant if isinstance(grant, str) else None


def _kid_of(token: str) -> str | None:
    from aiops.gatekeeper.errors import TokenError
    from aiops.gatekeeper.tokens import inspect

    try:
        return inspect(token).kid
    except TokenError:
        return None
