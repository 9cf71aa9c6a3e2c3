"""Executions started per (action, target) in the last hour: the policy's per-target rate limit reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HOUR_MS = 3_600_000

TargetKey = tuple[str, str, str, str]


def _key(action: str, target: Mapping[str, Any]) -> TargetKey:
    return action, str(target.get("environment")), str(target.get("namespace")), str(target.get("service"))


class RecentExecutions:
    """Started executions by (action, target), from this instance and from aiops.executions (all partitions)."""

    def __init__(self) -> None:
        self._started: dict[TargetKey, dict[str, int]] = {}
        self.recorded: set[str] = set()  # proposal ids with a "started" Execution record on the topic

    def add(self, action: str, target: Mapping[str, Any], proposal_id: str, started_ms: int) -> None:
        self._started.setdefault(_key(action, target), {}).setdefault(proposal_id, started_ms)

    def count(self, action: str, target: Mapping[str, Any], now_ms: int, exclude: str | None = None) -> int:
        """Executions of `action` on `target` started in the hour before now_ms (`exclude` not counted)."""
        started = self._started.get(_key(action, target), {})
        return sum(1 for pid, ms in started.items() if ms >= now_ms - HOUR_MS and pid != exclude)
