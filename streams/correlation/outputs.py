"""What the correlator hands back for each signal (streams/correlation/engine.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.correlation.errors import CorrelationRejection


@dataclass(frozen=True)
class Snapshot:
    incident_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Tombstone:
    """An incident merged into another: deleted from the compacted topic."""

    incident_id: str
    merged_into: str


@dataclass(frozen=True)
class Rejected:
    """A well-formed signal the correlator cannot place: dead-lettered with this error."""

    error: CorrelationRejection

    @property
    def reason(self) -> str:
        return str(self.error)


Output = Snapshot | Tombstone | Rejected
