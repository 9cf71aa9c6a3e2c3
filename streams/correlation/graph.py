"""The service dependency graph learned from spans: caller → callee with call counts and error rates."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any


def edge_key(caller: str, callee: str) -> str:
    return f"{caller}->{callee}"


def parse_edge_key(key: str) -> tuple[str, str]:
    caller, _, callee = key.partition("->")
    return caller, callee


class DependencyGraph:
    """A read view over the edges table (edge key → {calls, errors, last_seen})."""

    def __init__(self, edges: Mapping[str, Any]):
        self.callees: dict[str, set[str]] = {}
        self.callers: dict[str, set[str]] = {}
        self.stats: dict[tuple[str, str], dict[str, Any]] = {}
        for key, stats in edges.items():
            caller, callee = parse_edge_key(key)
            if not caller or not callee or caller == callee:
                continue
            self.callees.setdefault(caller, set()).add(callee)
            self.callers.setdefault(callee, set()).add(caller)
            self.stats[(caller, callee)] = stats

    def neighbours(self, service: str) -> set[str]:
        return self.callees.get(service, set()) | self.callers.get(service, set())

    def within(self, service: str, hops: int) -> set[str]:
        """Services connected to `service` by at most `hops` edges, in either direction (itself included)."""
        seen = {service}
        frontier = deque([(service, 0)])
        while frontier:
            current, depth = frontier.popleft()
            if depth == hops:
                continue
            for nxt in self.neighbours(current):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, depth + 1))
        return seen

    def connected(self, service: str, others: Iterable[str], hops: int) -> bool:
        reach = self.within(service, hops)
        return any(other in reach for other in others)

    def downstream(self, service: str, among: set[str]) -> set[str]:
        """Services among `among` that `service` calls, directly or through others in `among`."""
        seen: set[str] = set()
        frontier = [service]
        while frontier:
            current = frontier.pop()
            for callee in self.callees.get(current, set()):
                if callee in among and callee not in seen:
                    seen.add(callee)
                    frontier.append(callee)
        seen.discard(service)
        return seen

    def upstream(self, service: str, among: set[str]) -> set[str]:
        seen: set[str] = set()
        frontier = [service]
        while frontier:
            current = frontier.pop()
            for caller in self.callers.get(current, set()):
                if caller in among and caller not in seen:
                    seen.add(caller)
                    frontier.append(caller)
        seen.discard(service)
        return seen

    def chain_to(self, service: str, among: set[str]) -> list[str]:
        """The longest caller chain within `among` that ends at `service` (for the reason text)."""
        best = [service]

        def walk(path: list[str]) -> None:
            nonlocal best
            if len(path) > len(best):
                best = list(path)
            for caller in sorted(self.callers.get(path[0], set())):
                if caller in among and caller not in path:
                    walk([caller, *path])

        walk([service])
        return best

    def error_rate(self, caller: str, callee: str) -> float | None:
        stats = self.stats.get((caller, callee))
        if not stats or not stats.get("calls"):
            return None
        return stats.get("errors", 0) / stats["calls"]
