"""A labelled case: telemetry to replay (in the replay format of aiops/demo/replay.py) and what went wrong.

A case's records are placed on one timeline: first a fault-free reference window (the warm-up, from which
baselines are learned), then the case itself. `fault_at` is when the fault was injected (None for a
fault-free reference case: every incident opened in it is a false one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiops.core.errors import AiopsError
from aiops.demo.replay import Recording


class CaseError(AiopsError):
    """A case folder that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Label:
    root_cause_service: str | None  # None: fault-free
    fault_type: str | None = None
    fault_at: datetime | None = None


@dataclass
class Case:
    case_id: str
    label: Label
    start: datetime  # time of the first record (offset 0)
    records: list[dict[str, Any]]  # replay-format records: at, topic, key, value; sorted by at
    warmup_until: datetime  # records before this are the fault-free reference window
    description: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.records[-1]["at"] if self.records else 0.0)

    def recording(self) -> Recording:
        return Recording(self.case_id, self.start, self.description, self.records)


def timeline(items: list[tuple[datetime, str, str | None, Any]]) -> tuple[datetime, list[dict[str, Any]]]:
    """Replay records from (time, topic, key, value), ordered by time, offsets from the earliest."""
    items = sorted(items, key=lambda item: item[0])
    if not items:
        raise CaseError("a case needs at least one record")
    start = items[0][0]
    return start, [{"at": round((when - start).total_seconds(), 6), "topic": topic, "key": key, "value": value}
                   for when, topic, key, value in items]
