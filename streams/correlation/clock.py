"""The correlator's event-time clock, kept in its counters table so it survives restarts.

The watermark is the latest event time seen; while no newer event arrives it moves on with the wall clock (an
idle stream still goes quiet). An event more than `allowed_lateness_s` behind the watermark is late.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from streams.correlation.errors import LateEventError


class EventClock:
    def __init__(self, counters: MutableMapping[str, Any], allowed_lateness_s: float):
        self.counters = counters
        self.allowed_lateness_s = allowed_lateness_s
        self.wall = 0.0

    def advance_wall(self, wall_now: float) -> None:
        self.wall = max(self.wall, wall_now)

    def observe(self, when: datetime) -> bool:
        """Advance the watermark; False when `when` is later than the allowed lateness behind it."""
        ts = when.timestamp()
        high = float(self.counters.get("max_event_time", 0.0))
        if ts > high:
            self.counters["max_event_time"] = ts
            self.counters["wall_at_max"] = self.wall
            return True
        return ts >= high - self.allowed_lateness_s

    def now(self) -> float:
        """The watermark, moved on by the wall time since it last advanced."""
        high = float(self.counters.get("max_event_time", 0.0))
        if not high:
            return self.wall
        return high + max(0.0, self.wall - float(self.counters.get("wall_at_max", self.wall)))

    def late(self, kind: str, when: datetime) -> LateEventError:
        """Count a late event and describe it."""
        self.counters["late_events"] = int(self.counters.get("late_events", 0)) + 1
        high = float(self.counters.get("max_event_time", 0.0))
        return LateEventError(
            f"{kind} event at {when.isoformat()} is {high - when.timestamp():.0f}s behind the latest event "
            f"time; allowed lateness is {self.allowed_lateness_s:.0f}s")
