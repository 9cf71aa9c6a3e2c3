"""The dry-run executor: records what it would do and changes nothing."""

from __future__ import annotations

import json

from connectors.executors.base import ExecutionRequest, ExecutionResult


class DryRunExecutor:
    name = "dry-run"

    def __init__(self) -> None:
        self.calls: list[ExecutionRequest] = []

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        self.calls.append(request)
        return ExecutionResult("succeeded", json.dumps({"dry_run": True, "would_run": request.body()},
                                                       sort_keys=True))

    async def status(self, idempotency_key: str) -> ExecutionResult | None:
        # Nothing ran, so running it "again" changes nothing either.
        return None

    async def footprint(self, measure: str, target: dict[str, str]) -> int | None:
        return None  # it knows nothing about the platform: the catalog's worst case applies

    async def close(self) -> None:
        return None
