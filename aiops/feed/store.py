"""The feed's memory: per view, the latest records by id, bounded, newest first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiops.feed.views import VIEWS, Row, View


@dataclass
class _Entry:
    row: Row
    time: float  # the view's time field, for newest-first order
    seq: int  # arrival order, to break ties
    version: int


class LatestRecords:
    """The newest records of one view, one per id (the highest version, else the latest arrival).

    Keeps at most `capacity` ids; the ones with the oldest time go first. Pruning runs in batches so that a long
    backlog read at start-up costs O(n log n), not O(n * capacity).
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._by_id: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, record_id: str, row: Row, time: float, seq: int, version: int = 0) -> bool:
        """Keep row unless a higher version of the same id is already kept; returns whether it was kept."""
        current = self._by_id.get(record_id)
        if current is not None and current.version > version:
            return False
        self._by_id[record_id] = _Entry(row, time, seq, version)
        if len(self._by_id) >= self.capacity + max(16, self.capacity // 4):
            self._prune()
        return True

    def get(self, record_id: str) -> Row | None:
        entry = self._by_id.get(record_id)
        return entry.row if entry is not None else None

    def remove(self, record_id: str) -> None:
        self._by_id.pop(record_id, None)

    def clear(self) -> None:
        self._by_id.clear()

    def _prune(self) -> None:
        keep = sorted(self._by_id.items(), key=lambda item: (item[1].time, item[1].seq), reverse=True)
        self._by_id = dict(keep[: self.capacity])

    def newest_first(self, limit: int | None = None) -> list[Row]:
        count = self.capacity if limit is None else min(limit, self.capacity)
        entries = sorted(self._by_id.values(), key=lambda e: (e.time, e.seq), reverse=True)
        return [entry.row for entry in entries[:count]]


class FeedStore:
    """Every view's latest records, and per view (endpoint name) what was read, skipped and superseded."""

    def __init__(self, capacity: int, views: tuple[View[Any], ...] = VIEWS):
        self.views = {view.endpoint: view for view in views}
        self.latest = {view.endpoint: LatestRecords(capacity) for view in views}
        self.records_read: Counter[str] = Counter()
        self.decode_errors: Counter[str] = Counter()
        self.stale_versions: Counter[str] = Counter()
        self._seq = 0

    def add(self, view: View[Any], record: Any) -> Row | None:
        """Store a decoded record of this view (raises on a record that does not fit the view).

        Returns the row kept, or None when a higher version of the same id was already kept.
        """
        row = view.to_row(record)
        self._seq += 1
        if not self.latest[view.endpoint].add(record.id, row, view.sort_time(record), self._seq, view.version(record)):
            self.stale_versions[view.endpoint] += 1
            return None
        return row

    def remove(self, view: View[Any], record_id: str) -> None:
        """Forget one id (a tombstone on a compacted topic)."""
        self.latest[view.endpoint].remove(record_id)

    def rows(self, endpoint: str, limit: int | None = None) -> list[Row]:
        return self.latest[endpoint].newest_first(limit)

    def row(self, endpoint: str, record_id: str) -> Row | None:
        """The kept row of this id, if any."""
        return self.latest[endpoint].get(record_id)

    def clear(self) -> None:
        for latest in self.latest.values():
            latest.clear()
