"""What every executor takes and returns, and how the gatekeeper gets the executor for an action."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from aiops.core.catalog import ValidatedAction

ExecutionStatus = Literal["succeeded", "failed", "skipped_duplicate", "outcome_unknown"]


@dataclass(frozen=True)
class ExecutionRequest:
    """One action to run: the same body goes to every HTTP executor."""

    idempotency_key: str
    proposal_id: str
    action: str
    target: dict[str, str]
    parameters: dict[str, Any]

    @classmethod
    def from_validated(cls, validated: ValidatedAction, *, idempotency_key: str, proposal_id: str) -> ExecutionRequest:
        """The request for an action the catalog validated: its checked parameters and the target they name."""
        return cls(idempotency_key=idempotency_key, proposal_id=proposal_id, action=validated.action,
                   target=validated.target.as_dict(), parameters=dict(validated.parameters))

    def body(self) -> dict[str, Any]:
        return {"idempotency_key": self.idempotency_key, "proposal_id": self.proposal_id,
                "action": self.action, "target": self.target, "parameters": self.parameters}

    def to_json(self) -> str:
        return json.dumps(self.body(), sort_keys=True)


@dataclass(frozen=True)
class ExecutionResult:
    """What came back: status, the response as text, an error message, the operation id if any."""

    status: ExecutionStatus
    response: str | None = None
    error: str | None = None
    operation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Executor(Protocol):
    name: str

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run the action once. Raises ExecutorError (did not run) or OutcomeUnknown (may have run)."""
        ...

    async def status(self, idempotency_key: str) -> ExecutionResult | None:
        """The result of the operation with this key; None if the executor never received it.

        Raises OutcomeUnknown when the executor cannot tell now (asked again later, never sent again blindly),
        StatusUnavailable when it can never tell (the gatekeeper then records outcome_unknown and escalates).
        """
        ...

    async def footprint(self, measure: str, target: dict[str, str]) -> int | None:
        """How many things an action on this target touches, from the executor's read API.

        `measure` is `pods` (the target service's pods) or `node_pods` (the pods on the node the target
        names). None when this executor cannot tell; raises ExecutorError or OutcomeUnknown when asking failed.
        """
        ...

    async def close(self) -> None: ...

