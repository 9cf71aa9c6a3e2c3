"""Approvals that arrive after the action started: an approval changes nothing; a rejection is a veto after
execution. A veto blocks only what has not started (before execution the policy denies on any valid
rejection). After execution it is verified by OPA, recorded in a Decision (trigger `veto`), and, where the
catalog names a compensating action, that action is proposed as a new proposal, requested by the vetoer,
which goes through the gate (policy and approvals) like any other."""

from __future__ import annotations

from dataclasses import replace

from aiops.core.catalog import InvalidAction
from aiops.core.topics import PROPOSALS
from aiops.gatekeeper.compensation import compensating_proposal
from aiops.gatekeeper.contracts import Gate
from aiops.gatekeeper.errors import PolicyUnavailable
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.records import approvals_considered


async def after_execution(gate: Gate, state: ProposalState, entry: ApprovalEntry) -> None:
    """Record an approval or rejection for a proposal that is executing or executed."""
    assert state.proposal is not None
    done = (f"proposal {state.proposal_id} was already executed (idempotency key "
            f"{state.execution.idempotency_key if state.execution else '?'})")
    if entry.decision != "reject":
        await gate.write_decision(state, allow=False, trigger="approval", reasons=[f"{done}; nothing more to decide"],
                                  considered=approvals_considered(state, None, []))
        await gate.persist(state)
        return
    validated, _ = gate.validated(state.proposal)
    try:
        answer = await gate.policy.decide(await gate.document(state, validated, [entry]))
    except PolicyUnavailable as exc:
        await gate.write_decision(state, allow=False, trigger="veto", reasons=[
            f"{done}; a rejection arrived but could not be verified ({exc.reason}); nothing proposed"],
            considered=approvals_considered(state, None, []), latency_ms=exc.latency_ms)
        await gate.persist(state)
        return
    vetoed_by = [str(name) for name in answer.result.get("rejected_by") or []]
    considered = approvals_considered(replace(state, approvals=[entry]), answer, [entry])  # the rejection alone
    if not vetoed_by:
        await gate.write_decision(state, allow=False, trigger="veto", reasons=[
            f"{done}; the rejection is not a valid veto"], considered=considered, answer=answer)
        await gate.persist(state)
        return
    who = ", ".join(vetoed_by)
    reasons = [f"{who} rejected this action after it had started ({done}): the veto is recorded; it cannot stop "
               "an action that already started"]
    try:
        compensation = compensating_proposal(state.proposal, gate.catalog, who, gate.now_ms(),
                                             int(gate.settings.proposal_ttl_s * 1000))
    except InvalidAction as exc:
        compensation = None
        reasons.append(f"gatekeeper: the catalog's compensating action does not fit this proposal: {exc}")
    if compensation is not None:
        reasons.append(f"gatekeeper: proposed the compensating action {compensation.action} as proposal "
                       f"{compensation.id} (it needs approval like any other)")
        await gate.outputs.send(state.partition, PROPOSALS, compensation.id,
                                gate.codecs["Proposal"].encode(compensation.to_avro()))
    elif len(reasons) == 1:
        reasons.append(f"gatekeeper: the catalog names no compensating action for {state.proposal.action}")
    await gate.write_decision(state, allow=False, trigger="veto", reasons=reasons, considered=considered,
                              answer=answer)
    await gate.persist(state)
