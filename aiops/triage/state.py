"""What triage remembers per incident, and what it does with the next snapshot of it.

An incident is triaged when its likely root cause is first named and again when it changes; a resolved
incident is written back to memory once, with the actions proposed for it and how they ended. The state is a
JSON-compatible dict in a Faust table (`incident_to_triage`), so it survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from streams.output_records import Incident, IncidentStatus, Proposal


class Step(Enum):
    """What a snapshot asks of triage."""

    nothing = "nothing"  # root cause unknown or unchanged, or already written back
    propose = "propose"  # a root cause named for the first time, or a new one
    write_back = "write_back"  # resolved and not written back yet


@dataclass(frozen=True)
class TriageState:
    root: str | None = None  # the root-cause service the last proposals were made for
    proposals: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # {id, action, parameters} each
    written_back: bool = False

    @classmethod
    def from_table(cls, value: Mapping[str, Any] | None) -> TriageState:
        if not value:
            return cls()
        return cls(value.get("root"), tuple(value.get("proposals") or ()), bool(value.get("written_back")))

    def to_table(self) -> dict[str, Any]:
        return {"root": self.root, "proposals": list(self.proposals), "written_back": self.written_back}

    def next_step(self, incident: Incident) -> Step:
        if incident.status == IncidentStatus.resolved:
            return Step.nothing if self.written_back else Step.write_back
        root = incident.root_cause.service
        return Step.nothing if root is None or root == self.root else Step.propose

    def proposed(self, root: str | None, proposals: Sequence[Proposal]) -> TriageState:
        """After proposing for `root`: the proposals not seen before are remembered (ids are deterministic)."""
        known = {p["id"] for p in self.proposals}
        new = tuple({"id": p.id, "action": p.action, "parameters": dict(p.parameters)}
                    for p in proposals if p.id not in known)
        return replace(self, root=root, proposals=self.proposals + new)

    def unsent(self, proposals: Sequence[Proposal]) -> list[Proposal]:
        """The proposals not sent before. Ids are deterministic (incident, action, parameters), so a root cause
        that changes and changes back yields the same ids again with a newer rationale; the gatekeeper decides
        the first proposal under an id and dead-letters a different one ("ids are never reused"), and the
        console marks the id ambiguous, so a proposal is sent once."""
        known = {p["id"] for p in self.proposals}
        return [p for p in proposals if p.id not in known]

    def wrote_back(self) -> TriageState:
        return replace(self, written_back=True)

    def actions_taken(self, outcome_of: Callable[[str], str]) -> list[dict[str, Any]]:
        """The proposals with the last execution status each reached (`proposed` when never executed)."""
        return [{**p, "status": outcome_of(p["id"])} for p in self.proposals]
