"""What the pages show, assembled from the kept records: incidents, and proposals with their gate state."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiops.console.live import LiveStore
from aiops.core.catalog import ActionCatalog, CatalogError, InvalidAction
from aiops.feed.views import Row
from aiops.gatekeeper.binding import action_hash, canonical_action

_NEEDS_APPROVAL = re.compile(r"needs \d+ approvals?\b")


@dataclass(frozen=True)
class GateState:
    """Where a proposal stands, in one phrase: `label` for the pill, `tone` for its colour, `detail` in words."""

    label: str
    tone: str  # ok, wait, bad, info
    detail: str
    actionable: bool  # approving or rejecting can still change something


@dataclass
class ProposalView:
    """A proposal with everything the gate said and did about it, newest first."""

    proposal: Row
    decisions: list[Row] = field(default_factory=list)
    executions: list[Row] = field(default_factory=list)
    description: str | None = None
    risk_class: str = ""
    blast_radius: int = 0
    catalog_problem: str | None = None
    state: GateState | None = None

    @property
    def id(self) -> str:
        return str(self.proposal["id"])

    def history(self) -> list[tuple[str, Row]]:
        """("decision" | "execution", record), newest first (RFC3339 UTC strings sort like the times)."""
        items = [("decision", d, d["evaluated_at"]) for d in self.decisions]
        items += [("execution", e, e["started_at"]) for e in self.executions]
        return [(kind, row) for kind, row, _ in sorted(items, key=lambda item: item[2] or "", reverse=True)]

    def signing_request(self, token_ttl_s: int) -> dict[str, Any]:
        """What the browser signs, and what it shows in words first.

        `canonical_action` is the exact text whose sha256 the token carries (aiops/gatekeeper/binding.py); the
        browser hashes it itself and renders the action and parameters from it, so what it shows is what it
        signs. JSON numbers cannot tell 1 from 1.0, so the browser must not re-serialize the parameters.
        """
        proposal = self.proposal
        canonical = canonical_action(proposal["action"], proposal["parameters"])
        target = proposal["target"]
        return {
            "proposal_id": proposal["id"], "incident_id": proposal["incident_id"],
            "canonical_action": canonical, "action_hash": action_hash(proposal["action"], proposal["parameters"]),
            "target": f"{target['environment']}/{target['namespace']}/{target['service']}",
            "risk_class": self.risk_class, "blast_radius": self.blast_radius,
            "description": self.description, "expires_at": proposal["expires_at"], "token_ttl_s": token_ttl_s,
        }


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def gate_state(proposal: Row, decisions: list[Row], executions: list[Row], now: datetime) -> GateState:
    """The proposal's state from its newest execution and decision (both lists newest first)."""
    if executions:
        latest = executions[0]
        via = f"via {latest['executor']}"
        if latest["status"] in ("succeeded", "skipped_duplicate"):
            return GateState("executed", "ok", f"{latest['action']} {latest['status']} {via}", False)
        if latest["status"] == "started":
            return GateState("executing", "info", f"{latest['action']} started {via}", False)
        return GateState("failed", "bad", f"{latest['action']} failed {via}: {latest['error'] or 'no detail'}",
                         False)
    expires = _parse_time(proposal.get("expires_at"))
    if expires is not None and expires <= now:
        return GateState("expired", "bad", "the proposal expired; nothing will run", False)
    if not decisions:
        return GateState("pending", "info", "waiting for the gatekeeper's first decision", True)
    latest = decisions[0]
    reasons = "; ".join(latest["reasons"])
    if latest["allow"]:
        return GateState("allowed", "ok", "allowed; the execution starts", False)
    if any(a["counted"] and a["decision"] == "reject" for a in latest["approvals_considered"]):
        return GateState("rejected", "bad", reasons or "vetoed", True)
    if any(_NEEDS_APPROVAL.search(reason) for reason in latest["reasons"]):
        return GateState("needs approval", "wait", reasons, True)
    return GateState("denied", "bad", reasons or "denied", True)


class ConsoleQueries:
    """Read-only questions the pages ask of the store (a few hundred records per view: scanning is cheap)."""

    def __init__(self, store: LiveStore, catalog: ActionCatalog | None):
        self.store = store
        self.catalog = catalog

    def incidents(self, limit: int | None = None) -> list[Row]:
        return self.store.rows("incidents", limit)

    def incident(self, incident_id: str) -> Row | None:
        return self.store.row("incidents", incident_id)

    def proposal(self, proposal_id: str, now: datetime | None = None) -> ProposalView | None:
        row = self.store.row("proposals", proposal_id)
        return None if row is None else self._view(row, self._gate_records(), now or datetime.now(UTC))

    def proposals(self, incident_id: str | None = None, limit: int | None = None,
                  now: datetime | None = None) -> list[ProposalView]:
        now = now or datetime.now(UTC)
        rows = [p for p in self.store.rows("proposals") if incident_id is None or p["incident_id"] == incident_id]
        records = self._gate_records()
        return [self._view(row, records, now) for row in rows[:limit]]

    def incident_proposals(self, incident_id: str, now: datetime | None = None) -> list[ProposalView]:
        """An incident's proposals, the ones a person can still decide first (then newest first)."""
        views = self.proposals(incident_id=incident_id, now=now)
        return sorted(views, key=lambda view: not (view.state and view.state.actionable))

    def waiting_counts(self, now: datetime | None = None) -> dict[str, tuple[int, int]]:
        """Per incident id: (proposals, proposals waiting for a person's approval)."""
        counts: dict[str, tuple[int, int]] = {}
        for view in self.proposals(now=now):
            total, waiting = counts.get(view.proposal["incident_id"], (0, 0))
            needs = view.state is not None and view.state.label == "needs approval"
            counts[view.proposal["incident_id"]] = (total + 1, waiting + int(needs))
        return counts

    def _gate_records(self) -> dict[str, tuple[list[Row], list[Row]]]:
        """Decisions and executions per proposal id, newest first (one pass over each view)."""
        grouped: dict[str, tuple[list[Row], list[Row]]] = {}
        for index, view in enumerate(("decisions", "executions")):
            for record in self.store.rows(view):
                grouped.setdefault(record["proposal_id"], ([], []))[index].append(record)
        return grouped

    def _view(self, row: Row, records: dict[str, tuple[list[Row], list[Row]]], now: datetime) -> ProposalView:
        decisions, executions = records.get(row["id"], ([], []))
        view = ProposalView(row, decisions, executions, risk_class=row["risk_class"], blast_radius=row["blast_radius"])
        if self.catalog is not None:
            spec = self.catalog.actions.get(row["action"])
            view.description = spec.description if spec is not None else None
            try:
                validated = self.catalog.validate(row["action"], row["parameters"])
                # The catalog's class and blast radius are what the gate applies, whatever the proposal claims.
                view.risk_class = validated.risk_class.value
                view.blast_radius = max(row["blast_radius"], validated.blast_radius)
                if view.risk_class != row["risk_class"]:
                    view.catalog_problem = (f"the proposal claims {row['risk_class']}; the catalog's class "
                                            f"{view.risk_class} applies")
            except (InvalidAction, CatalogError) as exc:
                view.catalog_problem = f"{exc} - the gatekeeper will refuse this action"
        view.state = gate_state(row, decisions, executions, now)
        reused = self.store.reused_ids.get(view.id)
        if reused:
            view.state = GateState(
                "ambiguous id", "bad", f"{reused} different proposals carry this id: the gatekeeper considers only "
                "the first (shown here) and dead-letters the others; nothing may be signed for it", False)
        return view
