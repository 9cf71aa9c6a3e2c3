"""The gatekeeper's timers: per proposal, when to decide its expiry, retry a failed evaluation, reconcile an
execution whose outcome is unknown, or expire approvals whose proposal never came. A heap, earliest first;
equal times keep the order they were set in."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

TimerKind = Literal["expiry", "retry", "reconcile", "orphan"]


@dataclass(order=True, frozen=True)
class Timer:
    due_ms: int
    seq: int
    proposal_id: str = field(compare=False)
    kind: TimerKind = field(compare=False)


class Timers:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, due_ms: int, proposal_id: str, kind: TimerKind) -> None:
        self._seq += 1
        heapq.heappush(self._heap, Timer(due_ms, self._seq, proposal_id, kind))

    def next_due_ms(self) -> int | None:
        return self._heap[0].due_ms if self._heap else None

    def pop_due(self, now_ms: int) -> Timer | None:
        """The earliest timer if it is due at now_ms (removed), else None."""
        if self._heap and self._heap[0].due_ms <= now_ms:
            return heapq.heappop(self._heap)
        return None

    def clear(self) -> None:
        self._heap.clear()

    def keep(self, predicate: Callable[[Timer], bool]) -> None:
        """Drop every timer for which `predicate` is false."""
        self._heap = [timer for timer in self._heap if predicate(timer)]
        heapq.heapify(self._heap)
