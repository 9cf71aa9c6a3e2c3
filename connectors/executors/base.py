"""What every executor takes and returns, and how the gatekeeper gets the executor for an action."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

ExecutionStatus = Literal["succeeded", "failed", "skipped_duplicate"]


@dataclass(frozen=True)
class ExecutionRequest:
    """One action to run: the same body goes to every HTTP executor."""

    idempotency_key: str
    proposal_id: str
    action: str
    target: dict[str, str]
    parameters: dict[str, Any]

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

        Raises OutcomeUnknown when the executor cannot tell (then the action is not sent again).
        """
        ...

    async def close(self) -> None: ...

