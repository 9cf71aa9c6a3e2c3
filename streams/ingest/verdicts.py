"""Per-record verdicts: a message holding many records (an OTLP request, an alert payload) is judged record by
record, so that one bad record is dead-lettered on its own and the good ones of the same message go through."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from streams.ingest.errors import IngestError

R = TypeVar("R")


@dataclass(frozen=True)
class Rejected:
    """One record that could not be read: where it sat in its message, whose it was, why, and the record alone
    as a message of the input's own kind (None when it cannot stand alone), so its dead letter can be replayed."""

    position: str
    reason: str
    service: str | None = None
    original: bytes | None = None
    records: int = 1  # how many records it stands for (a resource without a service stands for all of its)

    def describe(self) -> str:
        whose = f" (service {self.service})" if self.service else ""
        return f"{self.position}{whose}: {self.reason}"

    def error(self) -> RejectedRecord:
        return RejectedRecord(self)


class RejectedRecord(IngestError):
    """The error of one record's dead letter; its position and service go into the dead-letter headers."""

    def __init__(self, rejected: Rejected):
        super().__init__(rejected.describe())
        self.position = rejected.position
        self.service = rejected.service


class Decoded(list[R]):
    """What one message gave: the records read (the list itself) and, in `rejected`, those that could not be,
    each with its own reason."""

    def __init__(self, records: Iterable[R] = (), rejected: Iterable[Rejected] = ()):
        super().__init__(records)
        self.rejected: list[Rejected] = list(rejected)
