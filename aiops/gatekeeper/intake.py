"""Which approval events a proposal keeps, so that approvals cannot pile up.

Kept: an approval whose token is well formed, bound to this proposal, and signed by a key the bundle registers
(the signature verified here, with that key), at most one per approver (a newer token from the same person
replaces the older one) and at most `max_per_proposal` in all. Everything else is dropped with its reason (the
caller dead-letters it): junk costs one signature check and one dead letter, never a place in the state, an
OPA evaluation or ledger space. Whether a kept approval counts is still OPA's decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.gatekeeper.bundle_keys import BundleKey, signature_verifies
from aiops.gatekeeper.errors import TokenError
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.tokens import TokenInfo, inspect


@dataclass(frozen=True)
class Admission:
    """What to do with one approval event: keep it (replacing `supersedes`), ignore a replay, or drop it."""

    keep: bool
    reason: str | None = None  # why it is dropped (None when kept or a replay)
    label: str = "kept"  # a short reason class for the metric
    supersedes: ApprovalEntry | None = None
    replay: bool = False


def _drop(reason: str, label: str) -> Admission:
    return Admission(False, reason, label)


def admit(entry: ApprovalEntry, state: ProposalState, key: BundleKey | None, keys_known: bool,
          jti_owner: dict[str, str], max_per_proposal: int) -> Admission:
    """Decide on one approval event for `state`'s proposal; fills entry.kid, .jti and .approver when kept.

    `key` is the bundle's key for the token's kid (None when the bundle has none); `keys_known` is False when the
    gatekeeper could not read the bundle's keys yet (the signature is then left to OPA).
    """
    if any(entry.same_event(seen) for seen in state.approvals):
        return Admission(False, replay=True, label="replay")
    try:
        info: TokenInfo = inspect(entry.token)
    except TokenError as exc:
        return _drop(f"token: {exc}", "malformed")
    entry.kid, entry.jti = info.kid, info.jti
    if info.jti in state.seen_jtis():
        return _drop(f"replay: token jti {info.jti} was already presented for this proposal", "replayed_token")
    owner = jti_owner.get(info.jti, entry.proposal_id)
    if owner != entry.proposal_id:
        return _drop(f"token jti {info.jti} was already presented for proposal {owner}; a token counts for one "
                     "proposal only", "replayed_token")
    if info.proposal_id != entry.proposal_id:
        return _drop(f"token is for proposal {info.proposal_id!r}, the event for {entry.proposal_id!r}", "unbound")
    if info.decision != entry.decision:
        return _drop(f"the event says {entry.decision} but the signed token says {info.decision}", "unbound")
    if keys_known:
        if key is None:
            return _drop(f"signed by key {info.kid!r}, which the policy bundle does not register", "unknown_key")
        if not signature_verifies(entry.token, key):
            return _drop(f"signature does not verify with key {info.kid!r}", "bad_signature")
        entry.approver = key.name
    same_person = next((a for a in state.approvals if entry.approver and a.approver == entry.approver), None)
    if same_person is not None:
        if int(info.claims["iat"]) < _issued(same_person):
            return _drop(f"{entry.approver} already gave a newer approval for this proposal", "older")
        return Admission(True, supersedes=same_person)
    if len(state.approvals) >= max_per_proposal:
        return _drop(f"proposal {entry.proposal_id} already holds {len(state.approvals)} approvals (the most "
                     "kept per proposal)", "full")
    return Admission(True)


def _issued(entry: ApprovalEntry) -> int:
    try:
        return int(inspect(entry.token).claims["iat"])
    except (TokenError, KeyError, ValueError, TypeError):
        return 0
