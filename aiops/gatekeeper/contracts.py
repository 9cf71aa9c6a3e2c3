"""What the parts of the gatekeeper's step see of each other: where the step writes (`Outputs`, implemented by
the Kafka plumbing in service.py) and the gate as its helpers use it (`Gate`, implemented by step.py), so that
the helpers (execution.py, vetoes.py) do not import the step that calls them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiops.core.avro import AvroCodec
from aiops.core.catalog import ActionCatalog, ValidatedAction
from aiops.core.settings import Settings
from aiops.gatekeeper.ledger import ApprovalEntry, ProposalState
from aiops.gatekeeper.policy import PolicyAnswer, PolicyClient
from aiops.gatekeeper.recent import RecentExecutions
from aiops.gatekeeper.timers import Timers
from streams.output_records import ApprovalConsidered, Proposal


class Outputs(Protocol):
    """Where the step writes: the transaction of the partition (`owner`) a proposal belongs to."""

    async def send(self, owner: int, name: str, key: str, value: bytes | None, partition: int | None = None) -> None:
        """Add a record for catalog topic `name` to partition `owner`'s transaction."""

    async def commit(self, owner: int) -> None:
        """Commit partition `owner`'s transaction (raises errors.Fenced when another instance took it)."""

    async def after_step(self, owner: int, work: Callable[[], Any]) -> None:
        """Run `work` once the step in progress is done, in a transaction of its own, rolled back on failure."""


class Gate(Protocol):
    """The proposal gate as the execution runner and the veto handling use it."""

    settings: Settings
    catalog: ActionCatalog
    codecs: dict[str, AvroCodec]
    outputs: Outputs
    policy: PolicyClient
    states: dict[str, ProposalState]
    recent: RecentExecutions
    timers: Timers

    def now_ms(self) -> int: ...

    def validated(self, proposal: Proposal) -> tuple[ValidatedAction | None, list[str]]: ...

    async def document(self, state: ProposalState, validated: ValidatedAction | None,
                       approvals: list[ApprovalEntry]) -> dict[str, Any]: ...

    async def write_decision(self, state: ProposalState, *, allow: bool, trigger: str, reasons: list[str],
                             considered: list[ApprovalConsidered], answer: PolicyAnswer | None = None,
                             latency_ms: float | None = None) -> str: ...

    async def write_execution(self, state: ProposalState) -> None: ...

    async def persist(self, state: ProposalState) -> None: ...
